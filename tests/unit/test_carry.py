"""shared.carry: what carries from one model to another, and what never does."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from shared.carry import carry
from shared.events import Event


class Asked(Event):
    alarm_id: uuid.UUID
    reason: str | None = None
    seq: int | None = None


class Answered(Event):
    alarm_id: uuid.UUID
    reason: str | None = None
    seq: int | None = None
    status: str


class Plain(BaseModel):
    alarm_id: uuid.UUID
    status: str = "new"


def test_shared_fields_carry_and_given_values_win() -> None:
    asked = Asked(alarm_id=uuid.uuid4(), reason="the command's", seq=7)
    answered = carry(Answered, asked, status="refused", reason="the refusal's")
    assert (answered.alarm_id, answered.seq) == (asked.alarm_id, 7)
    assert (answered.status, answered.reason) == ("refused", "the refusal's")


def test_an_events_own_id_and_time_never_carry() -> None:
    asked = Asked(alarm_id=uuid.uuid4())
    answered = carry(Answered, asked, status="applied")
    assert answered.event_id != asked.event_id


def test_omitted_fields_keep_the_targets_default() -> None:
    asked = Asked(alarm_id=uuid.uuid4(), seq=7)
    assert carry(Answered, asked, omit=("seq",), status="applied").seq is None
    assert carry(Plain, asked).status == "new", "a field the source lacks keeps its default"
