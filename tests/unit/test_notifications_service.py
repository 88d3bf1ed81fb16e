from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from services.notifications import service
from services.notifications.hub import Hub
from services.notifications.metrics import NotificationMetrics
from services.notifications.repository import InMemoryNotificationRepository
from services.notifications.service import Deps
from shared.events import AlarmLifecycle, PositionReported, SchoolRef, stable_id

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
SCHOOL = SchoolRef(school_id="S1", name="一中", township="会师镇", lat=35.69, lon=105.05)
# ~111 m per 0.001 degree of latitude
DEG_PER_M = 0.001 / 111.2


def make_deps(registry: CollectorRegistry) -> Deps:
    return Deps(
        repo=InMemoryNotificationRepository(),
        hub=Hub(),
        metrics=NotificationMetrics(registry),
        radius_m=3000,
        top_k=3,
        position_max_age_s=300,
    )


def fix(unit: str, metres_north: float, age_s: float = 0) -> PositionReported:
    return PositionReported(
        unit_id=unit,
        lat=SCHOOL.lat + metres_north * DEG_PER_M,
        lon=SCHOOL.lon,
        recorded_at=NOW - timedelta(seconds=age_s),
    )


def raised(alarm: str = "a1") -> AlarmLifecycle:
    return AlarmLifecycle(
        event_id=stable_id("lifecycle", alarm, "raised"),
        alarm_id=stable_id("alarm", alarm),
        state="raised",
        school=SCHOOL,
        kind="violence",
        silent=True,
        test=False,
        location={"building": "A", "floor": 1, "room": "101"},  # type: ignore[arg-type]
        device_id="D1",
        pressed_at=NOW,
        received_at=NOW,
    )


async def test_nearest_fresh_units_in_range_closest_first_top_k(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    fixes = [fix("far", 2500), fix("near", 300), fix("mid", 1200), fix("fourth", 2900)]
    fixes += [fix("outside", 3500), fix("stale", 50, age_s=301)]
    await service.record_positions(deps=deps, fixes=fixes)
    entry = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert entry is not None
    assert [u.unit_id for u in entry.nearest_units] == ["near", "mid", "far"]
    assert [round(u.distance_m, -1) for u in entry.nearest_units] == [300, 1200, 2500]


async def test_the_same_transition_twice_makes_one_feed_entry(registry: CollectorRegistry) -> None:
    deps = make_deps(registry)
    subscription = deps.hub.subscribe()
    first = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    second = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert first is not None and second is None
    assert subscription.queue.qsize() == 1


async def test_no_unit_in_range_still_tells_the_dispatcher(registry: CollectorRegistry) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("outside", 9000)])
    entry = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert entry is not None and entry.nearest_units == [] and entry.radius_m == 3000
    assert registry.get_sample_value("safecampus_alarms_without_nearby_unit_total") == 1


async def test_a_slow_stream_client_is_marked_to_resume(registry: CollectorRegistry) -> None:
    deps = make_deps(registry)
    subscription = deps.hub.subscribe()
    for i in range(1001):
        await service.on_lifecycle(deps=deps, event=raised(f"a{i}"), now=NOW)
    assert subscription.overflowed


async def test_a_folded_press_updates_the_feed_without_a_new_search(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("near", 100)])
    first = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    folded_event = raised().model_copy(
        update={"event_id": stable_id("fold"), "change": "folded", "press_count": 2, "severity": 2}
    )
    folded = await service.on_lifecycle(deps=deps, event=folded_event, now=NOW)
    assert first is not None and folded is not None
    assert [u.unit_id for u in first.nearest_units] == ["near"]
    assert (folded.change, folded.severity, folded.nearest_units) == ("folded", 2, [])
    assert registry.get_sample_value("safecampus_alarm_to_dispatcher_seconds_count") == 1
