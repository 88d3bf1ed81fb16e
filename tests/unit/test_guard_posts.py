"""Guard posts (护学岗): the school calendar, and gaps raised while a window is still open."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.patrols import guard_posts_service, service
from services.patrols.deps import Deps
from services.patrols.guardposts import Calendar, RosterEntry, Window, judge
from shared.errors import InvalidInput
from shared.events import GuardPostWindow, PositionReported
from shared.provisioning import County
from shared.topics import Topics
from tests.unit.test_patrols_service import make_deps

CST = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 30)
DEG_PER_M = 0.001 / 111.2


def at(hour: int, minute: int, day: date = MONDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CST)


def test_the_calendar_has_windows_on_school_days_only() -> None:
    calendar = Calendar(
        holidays=[MONDAY],
        extra_school_days=[date(2026, 12, 5)],
        exam_days={date(2026, 12, 1): {"morning": Window(start=time(6, 30), end=time(8, 30))}},
    )
    assert calendar.windows_on(MONDAY) == {}, "a holiday has no windows"
    assert calendar.windows_on(date(2026, 12, 6)) == {}, "nor a Sunday"
    assert set(calendar.windows_on(date(2026, 12, 5))) == {"morning", "noon", "afternoon"}, (
        "make-up Saturday"
    )
    exam = calendar.windows_on(date(2026, 12, 1))
    assert exam["morning"] == (at(6, 30, date(2026, 12, 1)), at(8, 30, date(2026, 12, 1)))
    assert exam["noon"][0] == at(11, 40, date(2026, 12, 1))


def test_a_window_is_judged_staffed_late_empty_or_pending() -> None:
    start, end, grace = at(7, 0), at(8, 0), timedelta(minutes=5)
    assert judge(start=start, end=end, now=at(7, 3), arrived_at=None, grace=grace) == "pending"
    assert judge(start=start, end=end, now=at(7, 5), arrived_at=None, grace=grace) == "empty"
    assert judge(start=start, end=end, now=at(7, 9), arrived_at=at(7, 4), grace=grace) == "staffed"
    assert judge(start=start, end=end, now=at(7, 30), arrived_at=at(7, 20), grace=grace) == "late"


async def _on_post(deps: object, county: County, unit: str, metres: float, when: datetime) -> None:
    point = county.point("S003-stop")
    assert point is not None
    fix = PositionReported(
        unit_id=unit, lat=point.lat + metres * DEG_PER_M, lon=point.lon, recorded_at=when
    )
    await service.record_positions(deps=deps, fixes=[fix])  # type: ignore[arg-type]


async def rostered(county: County, registry: CollectorRegistry) -> Deps:
    deps = make_deps(county, registry)
    await deps.repo.provision_units(county.units)
    entry = RosterEntry(
        unit_id="U015", post_id="S003-stop", windows=["morning"], valid_from=MONDAY, valid_to=MONDAY
    )
    await guard_posts_service.add_roster_entry(deps=deps, entry=entry)
    return deps


def events(deps: Deps) -> list[GuardPostWindow]:
    return [
        e
        for e in deps.publisher.events(Topics().patrols_guard_posts)
        if isinstance(e, GuardPostWindow)
    ]  # type: ignore[attr-defined]


async def test_an_empty_post_raises_one_gap_while_the_window_is_open(
    county: County, registry: CollectorRegistry
) -> None:
    deps = await rostered(county, registry)
    await _on_post(deps, county, "U015", 2000, at(6, 58))  # far from the gate
    assert await guard_posts_service.watch_posts(deps=deps, now=at(6, 59)) == [], (
        "before the window"
    )
    assert await guard_posts_service.watch_posts(deps=deps, now=at(7, 4)) == [], "within the grace"
    (gap,) = await guard_posts_service.watch_posts(deps=deps, now=at(7, 5))
    assert (gap.state, gap.final, gap.unit_id, gap.school_id) == ("empty", False, "U015", "S003")
    assert gap.window_end > at(7, 5) and round(gap.last_seen_m or 0, -2) == 2000
    assert await guard_posts_service.watch_posts(deps=deps, now=at(7, 6)) == [], "raised once"
    (outcome,) = await guard_posts_service.watch_posts(deps=deps, now=at(8, 0))
    assert (outcome.state, outcome.final) == ("empty", True)
    assert await guard_posts_service.watch_posts(deps=deps, now=at(8, 1)) == []
    assert len(events(deps)) == 2


async def test_a_staffed_post_raises_no_gap(county: County, registry: CollectorRegistry) -> None:
    deps = await rostered(county, registry)
    await _on_post(deps, county, "U015", 10, at(6, 59))  # fixes every few seconds in practice
    assert await guard_posts_service.watch_posts(deps=deps, now=at(7, 1)) == []
    await _on_post(deps, county, "U015", 15, at(7, 10))
    assert await guard_posts_service.watch_posts(deps=deps, now=at(7, 10)) == []
    (outcome,) = await guard_posts_service.watch_posts(
        deps=deps, now=at(8, 0, MONDAY) + timedelta(seconds=5)
    )
    assert (outcome.state, outcome.final, outcome.arrived_at) == ("staffed", True, at(7, 0))


async def test_a_units_duty_today_shows_its_windows_as_judged_so_far(
    county: County, registry: CollectorRegistry
) -> None:
    deps = await rostered(county, registry)
    await guard_posts_service.add_roster_entry(
        deps=deps,
        entry=RosterEntry(
            unit_id="U015",
            post_id="S003-stop",
            windows=["afternoon", "noon"],
            valid_from=MONDAY - timedelta(days=3),
            valid_to=MONDAY + timedelta(days=7),
        ),
    )
    before = await guard_posts_service.duty_today(deps=deps, unit_id="U015", now=at(6, 0))
    assert [(d.window, d.state) for d in before] == [
        ("morning", "pending"),
        ("noon", "pending"),
        ("afternoon", "pending"),
    ], "earliest first"
    school = county.school("S003")
    assert school is not None and before[0].school_name == school.name
    assert before[0].window_start == at(7, 0) and before[0].radius_m > 0
    await _on_post(deps, county, "U015", 10, at(7, 2))
    await guard_posts_service.watch_posts(deps=deps, now=at(7, 3))
    (morning, *_) = await guard_posts_service.duty_today(deps=deps, unit_id="U015", now=at(7, 3))
    assert (morning.state, morning.arrived_at) == ("staffed", at(7, 2))
    tuesday = at(7, 0, MONDAY + timedelta(days=1))
    later = await guard_posts_service.duty_today(deps=deps, unit_id="U015", now=tuesday)
    assert [d.window for d in later] == ["noon", "afternoon"], "the Monday-only entry is over"
    assert await guard_posts_service.duty_today(deps=deps, unit_id="U001", now=at(7, 3)) == []


async def test_a_late_arrival_after_the_gap_is_judged_late(
    county: County, registry: CollectorRegistry
) -> None:
    deps = await rostered(county, registry)
    (gap,) = await guard_posts_service.watch_posts(deps=deps, now=at(7, 6))
    assert gap.state == "empty"
    await _on_post(deps, county, "U015", 5, at(7, 20))
    assert await guard_posts_service.watch_posts(deps=deps, now=at(7, 21)) == []
    (outcome,) = await guard_posts_service.watch_posts(deps=deps, now=at(8, 0))
    assert (outcome.state, outcome.arrived_at) == ("late", at(7, 20))


async def test_holidays_have_no_windows_and_so_no_gaps(
    county: County, registry: CollectorRegistry
) -> None:
    deps = await rostered(county, registry)
    await guard_posts_service.save_calendar(deps=deps, calendar=Calendar(holidays=[MONDAY]))
    assert await guard_posts_service.watch_posts(deps=deps, now=at(7, 30)) == []


async def test_a_roster_entry_names_a_real_unit_and_a_gate_post(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    bad = RosterEntry(
        unit_id="GHOST",
        post_id="S003-must_reach",
        windows=["noon"],
        valid_from=MONDAY,
        valid_to=MONDAY,
    )
    with pytest.raises(InvalidInput) as exc:
        await guard_posts_service.add_roster_entry(deps=deps, entry=bad)
    assert [e["loc"][-1] for e in exc.value.errors] == ["unit_id", "post_id"]


def test_utc_clocks_are_judged_in_local_school_time() -> None:
    calendar = Calendar()
    morning = calendar.windows_on(MONDAY)["morning"]
    assert morning[0].astimezone(UTC) == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["Nope/Zone", "a" * 300, "../../etc/passwd", "/etc/localtime"])
def test_an_unknown_time_zone_is_a_validation_error(zone: str) -> None:
    """ZoneInfo raised KeyError or OSError for these, which FastAPI answered 500."""
    with pytest.raises(ValidationError, match="timezone"):
        Calendar(timezone=zone)
