"""Values the repository tests share: a moment, a school near the county seat, a press there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifications.board import UnitBoard
from shared.events import (
    AlarmLifecycle,
    AlarmPressed,
    Location,
    NearbyUnit,
    SchoolRef,
    stable_id,
)

NOW = datetime.now(UTC).replace(microsecond=0)  # whole seconds: BSON keeps milliseconds
SCHOOL = SchoolRef(school_id="S1", name="一中", township="会师镇", lat=35.69, lon=105.05)
DEG_PER_M = 0.001 / 111.2  # degrees of latitude per metre
ROOM_201 = Location(building="A", floor=2, room="201")


def pressed(press: str) -> AlarmPressed:
    """A silent intrusion press at SCHOOL from device D1, its ids derived from `press`."""
    return AlarmPressed(
        press_id=stable_id("press", press),
        alarm_id=stable_id("alarm", press),
        school_id=SCHOOL.school_id,
        device_id="D1",
        kind="intrusion",
        silent=True,
        test=False,
        location=ROOM_201,
        pressed_at=NOW,
        received_at=NOW,
    )


def raised(alarm: str, **fields: Any) -> AlarmLifecycle:
    """The `raised` event of alarm `alarm` (a fire at SCHOOL at NOW), `fields` changed."""
    values: dict[str, Any] = {
        "event_id": stable_id(alarm, "raised"),
        "occurred_at": NOW,
        "alarm_id": stable_id(alarm),
        "state": "raised",
        "school": SCHOOL,
        "kind": "fire",
        "silent": False,
        "test": False,
        "location": ROOM_201,
        "device_id": "D",
        "pressed_at": NOW,
    }
    return AlarmLifecycle.model_validate(values | fields)


def nearest(
    board: UnitBoard,
    *,
    limit: int,
    guard_post_radius_m: float = 200,
    at: SchoolRef = SCHOOL,
    now: datetime = NOW,
) -> list[NearbyUnit]:
    """The board's ranking for a school (3 km, fixes of the last 5 minutes)."""
    fresh_since = now - timedelta(minutes=5)
    return board.nearest(
        lat=at.lat,
        lon=at.lon,
        radius_m=3000,
        limit=limit,
        fresh_since=fresh_since,
        guard_post_radius_m=guard_post_radius_m,
    )
