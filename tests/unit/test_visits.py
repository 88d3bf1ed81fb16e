"""Visits to patrol points and dwell time, from fixes and check-ins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.patrols.visits import bounding_box, find_visits
from shared.events import CheckinRecorded
from shared.geo import haversine_m
from shared.provisioning import PatrolPoint

T0 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
POINT = PatrolPoint(
    point_id="S1-must_patrol",
    school_id="S1",
    kind="must_patrol",
    lat=35.69,
    lon=105.05,
    radius_m=200,
)
DEG_PER_M = 0.001 / 111.2


def fix(unit: str, minute: float, metres: float) -> tuple[str, datetime, float, float]:
    return unit, T0 + timedelta(minutes=minute), POINT.lat + metres * DEG_PER_M, POINT.lon


def checkin(unit: str, minute: float, *, flagged: bool = False) -> CheckinRecorded:
    return CheckinRecorded(
        checkin_id=uuid.uuid4(),
        unit_id=unit,
        point_id=POINT.point_id,
        school_id="S1",
        point_kind="must_patrol",
        lat=POINT.lat,
        lon=POINT.lon,
        at=T0 + timedelta(minutes=minute),
        distance_m=0,
        flagged=flagged,
    )


def test_fixes_inside_make_a_visit_with_its_dwell_and_a_gap_splits_it() -> None:
    fixes = (
        [fix("U1", m, 50) for m in (0, 1, 2, 3)]
        + [fix("U1", 4, 900)]
        + [fix("U1", m, 20) for m in (12, 13)]
    )
    visits = find_visits(POINT, fixes, [])
    assert [(v.arrived_at, v.dwell_s, v.fixes) for v in visits] == [
        (T0, 180.0, 4),
        (T0 + timedelta(minutes=12), 60.0, 2),
    ]


def test_check_ins_mark_visits_or_stand_alone_and_flagged_ones_do_not_count() -> None:
    fixes = [fix("U1", m, 10) for m in (0, 1, 2)] + [fix("U2", 30, 5000)]
    visits = find_visits(
        POINT, fixes, [checkin("U1", 1), checkin("U2", 30), checkin("U3", 40, flagged=True)]
    )
    assert [(v.unit_id, v.checked_in, v.source, v.dwell_s) for v in visits] == [
        ("U1", True, "positions", 120.0),
        ("U2", True, "checkin", 0.0),
    ]


def test_the_bounding_box_contains_the_geofence() -> None:
    box = bounding_box(POINT)
    assert haversine_m(POINT.lat, POINT.lon, box.max_lat, POINT.lon) >= POINT.radius_m - 1
    assert haversine_m(POINT.lat, POINT.lon, POINT.lat, box.max_lon) >= POINT.radius_m - 1
    assert box.holds(POINT.lat, POINT.lon) and not box.holds(box.max_lat + 0.001, POINT.lon)
