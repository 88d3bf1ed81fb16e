"""Scheduled live tests of the buttons, the domain: a supervisor plans a window for a school or
a township (announced to the 110 centre beforehand); a press marked `test` from one of its
buttons within the window is that button's test; a press the school reports but that never
arrived is a failed test. Pure functions; no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.events import AlarmPressed
from shared.inputs import Moment
from shared.provisioning import County, School

LONGEST_WINDOW = timedelta(hours=24)


class LiveTestRequest(BaseModel):
    """Body of `POST /v1/live-tests`: a window for one school or a whole township."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    test_id: uuid.UUID = Field(
        default_factory=uuid.uuid4, description="Idempotency key: the same plan again is one"
    )
    school_id: str | None = Field(None, min_length=1, max_length=64)
    township: str | None = Field(None, min_length=1, max_length=64)
    starts_at: Moment
    ends_at: Moment
    note: str | None = Field(None, max_length=500, description="e.g. who at the 110 centre knows")

    @model_validator(mode="after")
    def _one_scope_and_a_window(self) -> Self:
        if (self.school_id is None) == (self.township is None):
            raise ValueError("give either school_id or township")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.ends_at - self.starts_at > LONGEST_WINDOW:
            raise ValueError("a live-test window is at most 24 hours")
        return self


class AttemptRequest(BaseModel):
    """Body of `POST /v1/live-tests/{test_id}/attempts`: the school says it pressed a button."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    device_id: str = Field(..., min_length=1, max_length=64)
    pressed_at: Moment = Field(..., description="When the school says it pressed")


class Attempt(BaseModel):
    """A press the school reported, as recorded."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    device_id: str
    pressed_at: AwareDatetime
    reported_by: str


class LiveTest(BaseModel):
    """A planned live-test window (collection `live_tests`, _id = test_id)."""

    model_config = ConfigDict(extra="ignore")

    test_id: uuid.UUID
    school_id: str | None = None
    township: str | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str | None = None
    planned_by: str
    planned_at: AwareDatetime
    attempts: list[Attempt] = Field(default_factory=list)

    def covers(self, school: School) -> bool:
        return self.school_id == school.school_id or self.township == school.township

    def holds(self, at: datetime) -> bool:
        return self.starts_at <= at <= self.ends_at

    def same_plan(self, other: LiveTest) -> bool:
        fields = ("school_id", "township", "starts_at", "ends_at", "note")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


TestStatus = Literal["tested", "failed", "not_tested"]


class LiveTestRow(BaseModel):
    """One button over the period."""

    device_id: str
    school_id: str
    name: str
    township: str
    planned: bool = Field(..., description="A window in the period covered its school")
    status: TestStatus = Field(
        ...,
        description="`tested`: a test press arrived within a window; `failed`: the school "
        "reported pressing it within a window and nothing arrived; `not_tested`: neither",
    )
    test_id: uuid.UUID | None = Field(None, description="The window that tested it, or failed")
    received_at: AwareDatetime | None = Field(None, description="When its test press arrived")
    reported_pressed_at: AwareDatetime | None = Field(
        None, description="When the school said it pressed (a failed test)"
    )


class LiveTestReport(BaseModel):
    """Every button in scope over the period, and how many were tested, failed, not tested."""

    since: AwareDatetime
    until: AwareDatetime
    tested: int
    failed: int
    not_tested: int
    rows: list[LiveTestRow]


def report(
    windows: Sequence[LiveTest],
    test_presses: Iterable[AlarmPressed],
    county: County,
    schools: Iterable[School],
    *,
    since: datetime,
    until: datetime,
) -> LiveTestReport:
    """Each button of `schools`: tested, failed or not tested by the windows overlapping
    [since, until); presses are the test presses received in that span."""
    windows = [w for w in windows if w.starts_at < until and w.ends_at >= since]
    received: dict[str, list[AlarmPressed]] = {}
    for pressed in test_presses:
        received.setdefault(pressed.device_id, []).append(pressed)
    rows = [
        _row(device_id, school, windows, received.get(device_id, []))
        for school in sorted(schools, key=lambda s: s.school_id)
        for device_id in sorted(
            d.device_id for d in county.devices if d.school_id == school.school_id
        )
    ]
    count = {
        status: sum(r.status == status for r in rows)
        for status in ("tested", "failed", "not_tested")
    }
    return LiveTestReport(since=since, until=until, rows=rows, **count)


def _row(
    device_id: str, school: School, windows: Sequence[LiveTest], presses: Sequence[AlarmPressed]
) -> LiveTestRow:
    covering = sorted((w for w in windows if w.covers(school)), key=lambda w: w.starts_at)
    row = LiveTestRow(
        device_id=device_id,
        school_id=school.school_id,
        name=school.name,
        township=school.township,
        planned=bool(covering),
        status="not_tested",
    )
    for window in covering:
        arrived = sorted(p.received_at for p in presses if window.holds(p.received_at))
        if arrived:
            return row.model_copy(
                update={"status": "tested", "test_id": window.test_id, "received_at": arrived[0]}
            )
    for window in covering:
        reported = [a.pressed_at for a in window.attempts if a.device_id == device_id]
        if reported:
            return row.model_copy(
                update={
                    "status": "failed",
                    "test_id": window.test_id,
                    "reported_pressed_at": min(reported),
                }
            )
    return row
