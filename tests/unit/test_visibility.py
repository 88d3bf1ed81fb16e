"""Police visibility (见警率): a school's rush-hour window is seen when a unit was near it at some
moment, with the minutes any unit was; every school's window worked out once, after it ended
and its late fixes had time to come, from the units' position history; the relay publishes
what a crash left unpublished."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import get_args

from prometheus_client import CollectorRegistry

from services.patrols import visibility_service
from services.patrols.deps import Deps
from services.patrols.visibility import MODES, patrolled
from shared.events import PositionReported, SchoolWindowPatrolled
from shared.geo import haversine_m
from shared.provisioning import County, UnitKind
from shared.topics import Topics
from tests.fakes.patrols import InMemoryPatrolRepository
from tests.unit.test_patrols_service import make_deps as patrols_deps

DAY = date(2026, 12, 1)  # a Tuesday
START = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # 07:00 in the county: the morning window
END = START + timedelta(hours=1)
DEG_PER_M = 1 / 111_200


def near(county: County, school_id: str, metres: float) -> tuple[float, float]:
    school = county.school(school_id)
    assert school is not None
    return school.lat + metres * DEG_PER_M, school.lon


def test_a_window_is_seen_with_the_minutes_any_unit_was_near(county: County) -> None:
    school = county.schools[0]
    lat, lon = near(county, school.school_id, 100)
    far_lat, _ = near(county, school.school_id, 900)
    sightings = [
        *[("U004", START + timedelta(minutes=m, seconds=10), lat, lon) for m in range(5)],
        ("U004", START + timedelta(minutes=4, seconds=50), lat, lon),  # the same minute
        ("U015", START + timedelta(minutes=3), lat, lon),  # a foot patrol, a minute shared
        ("U015", START + timedelta(minutes=30), lat, lon),
        ("U013", START + timedelta(minutes=20), far_lat, lon),  # too far
        ("U004", END + timedelta(seconds=1), lat, lon),  # after the window
    ]
    window = patrolled(
        school=school,
        day=DAY,
        window="morning",
        span=(START, END),
        sightings=sightings,
        units={u.unit_id: u for u in county.units},
        radius_m=300,
    )
    assert (window.seen, window.minutes_present, window.window_minutes) == (True, 6, 60)
    assert [(u.unit_id, u.mode, u.minutes) for u in window.units] == [
        ("U004", "vehicle", 5),
        ("U015", "foot", 2),
    ]
    empty = patrolled(
        school=school,
        day=DAY,
        window="morning",
        span=(START, END),
        sightings=[],
        units={},
        radius_m=300,
    )
    assert (empty.seen, empty.minutes_present, empty.units) == (False, 0, [])
    assert empty.event_id == window.event_id, "one fact per school, day and window"


def make_deps(county: County, registry: CollectorRegistry) -> Deps:
    """Schools open on Tuesdays only, so that the days around DAY have no windows."""
    deps = patrols_deps(county, registry)
    repo = deps.repo
    assert isinstance(repo, InMemoryPatrolRepository)
    repo.calendar_record = repo.calendar_record.model_copy(update={"school_weekdays": [1]})
    return deps


def test_every_kind_of_unit_patrols_in_a_mode() -> None:
    assert set(MODES) == set(get_args(UnitKind))


def published(deps: Deps) -> list[SchoolWindowPatrolled]:
    events = deps.publisher.events(Topics().patrols_visibility)  # type: ignore[attr-defined]
    return [e for e in events if isinstance(e, SchoolWindowPatrolled)]


async def test_every_school_s_window_is_worked_out_once_after_it_settled(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    lat, lon = near(county, "S001", 120)
    fixes = [
        PositionReported(unit_id="U013", lat=lat, lon=lon, recorded_at=START + timedelta(minutes=m))
        for m in (10, 11, 12)
    ]
    await deps.repo.record_positions(fixes)
    settled = END + deps.visibility.settle
    assert await visibility_service.watch(deps=deps, now=settled - timedelta(seconds=1)) == 0
    done = await visibility_service.watch(deps=deps, now=settled)
    assert done == len(county.schools) == len(published(deps))
    assert await visibility_service.watch(deps=deps, now=settled + timedelta(minutes=5)) == 0
    seen = {e.school.school_id: e for e in published(deps) if e.seen}
    radius = deps.visibility.radius_m
    near_fixes = [
        s.school_id for s in county.schools if haversine_m(s.lat, s.lon, lat, lon) <= radius
    ]
    assert sorted(seen) == near_fixes and "S001" in seen  # S010 is near S001 too
    assert [(u.unit_id, u.mode, u.minutes) for u in seen["S001"].units] == [("U013", "special", 3)]
    assert {(e.day, e.window) for e in published(deps)} == {(DAY, "morning")}


async def test_windows_missed_while_down_are_worked_out_and_a_crash_finished_by_the_relay(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    next_day = END + timedelta(days=1, hours=1)  # back the next day: the morning is too old
    assert await visibility_service.watch(deps=deps, now=next_day) == 2 * len(county.schools)
    repo = deps.repo
    assert isinstance(repo, InMemoryPatrolRepository)
    key = next(iter(repo.window_records))
    repo.windows_unpublished.add(key)  # as if it crashed before marking
    assert await visibility_service.relay(deps=deps, now=next_day) == 1
    assert await visibility_service.relay(deps=deps, now=next_day) == 0
    ids = [e.event_id for e in published(deps)]
    assert len(ids) == 2 * len(county.schools) + 1 and len(set(ids)) == 2 * len(county.schools)
