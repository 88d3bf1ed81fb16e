"""Police visibility (见警率) at a school in a rush-hour window, from positions: which units were
near it (within the visibility radius) and in how many of the window's minutes. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from services.patrols.visits import Sighting
from shared.events import PatrolMode, SchoolWindowPatrolled, UnitSeen, stable_id
from shared.geo import haversine_m
from shared.provisioning import School, Unit, UnitKind

# How each kind of unit patrols: on foot, in a vehicle, or as special patrol police (特巡警).
MODES: dict[UnitKind, PatrolMode] = {
    "foot_patrol": "foot",
    "guard_post": "foot",
    "station_officer": "foot",
    "patrol_car": "vehicle",
    "traffic_police": "vehicle",
    "special_patrol": "special",
}


def patrolled(
    *,
    school: School,
    day: date,
    window: str,
    span: tuple[datetime, datetime],
    sightings: Iterable[Sighting],
    units: Mapping[str, Unit],
    radius_m: float,
) -> SchoolWindowPatrolled:
    """The window as it went: the minutes (from its start) in which each unit was near."""
    start, end = span
    minutes: dict[str, set[int]] = defaultdict(set)
    for unit_id, at, lat, lon in sightings:
        near = haversine_m(school.lat, school.lon, lat, lon) <= radius_m
        if unit_id in units and start <= at < end and near:
            minutes[unit_id].add(int((at - start).total_seconds() // 60))
    seen = [
        UnitSeen(
            unit_id=unit_id,
            kind=units[unit_id].kind,
            mode=MODES[units[unit_id].kind],
            minutes=len(slots),
        )
        for unit_id, slots in sorted(minutes.items())
    ]
    present = set().union(*minutes.values()) if minutes else set()
    return SchoolWindowPatrolled(
        event_id=stable_id("visibility", school.school_id, start.astimezone(UTC).isoformat()),
        occurred_at=end,
        school=school.ref(),
        day=day,
        window=window,
        window_start=start,
        window_end=end,
        radius_m=radius_m,
        seen=bool(seen),
        minutes_present=len(present),
        window_minutes=max(1, round((end - start).total_seconds() / 60)),
        units=seen,
    )
