import uuid

import pytest
from pydantic import ValidationError

from shared.events import Event, PositionReported, stable_id


def test_every_event_has_identity_time_and_version() -> None:
    event = Event()
    assert isinstance(event.event_id, uuid.UUID)
    assert event.occurred_at.tzinfo is not None
    assert event.schema_version == 1


def test_unknown_fields_from_newer_producers_are_ignored() -> None:
    raw = {
        "unit_id": "U1",
        "lat": 35.7,
        "lon": 105.0,
        "recorded_at": "2026-11-28T08:00:00+08:00",
        "schema_version": 2,
        "added_later": "x",
    }
    fix = PositionReported.model_validate(raw)
    assert fix.schema_version == 2 and not hasattr(fix, "added_later")


def test_naive_times_and_out_of_range_positions_are_refused() -> None:
    with pytest.raises(ValidationError):
        PositionReported(unit_id="U1", lat=35.0, lon=105.0, recorded_at="2026-11-28T08:00:00")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        PositionReported(unit_id="U1", lat=200, lon=105.0, recorded_at="2026-11-28T08:00:00Z")  # type: ignore[arg-type]


def test_stable_ids_are_deterministic() -> None:
    assert stable_id("a", "b") == stable_id("a", "b")
    assert stable_id("a", "b") != stable_id("b", "a")
