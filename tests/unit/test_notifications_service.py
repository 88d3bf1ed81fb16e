import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from services.notifications import feed, service
from services.notifications.deps import Deps, Ranking
from services.notifications.metrics import NotificationMetrics
from services.notifications.models import FeedEntry, Order, PostGap
from services.notifications.streams import FEED, ORDERS, MemoryLog, Tail
from shared.bus.background import RELAY_AFTER, Afterwards, background_failures
from shared.events import (
    AlarmCommand,
    AlarmLifecycle,
    CommandResolved,
    DeliveryChanged,
    DeviceTrouble,
    GuardPostWindow,
    PlanContent,
    PositionReported,
    SchoolPlanChanged,
    SchoolRef,
    UnitStatusChanged,
    stable_id,
    utcnow,
)
from shared.provisioning import County
from shared.topics import Topics
from tests.fakes.notifications import InMemoryNotificationRepository
from tests.fakes.publisher import RecordingPublisher

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
SCHOOL = SchoolRef(school_id="S1", name="一中", township="会师镇", lat=35.69, lon=105.05)
# ~111 m per 0.001 degree of latitude
DEG_PER_M = 0.001 / 111.2


def make_deps(registry: CollectorRegistry) -> Deps:
    tails = {Topics().notifications_feed: Tail(FEED), Topics().notifications_orders: Tail(ORDERS)}
    return Deps(
        repo=InMemoryNotificationRepository(),
        log=MemoryLog(tails),
        publisher=RecordingPublisher(),
        topics=Topics(),
        metrics=NotificationMetrics(registry),
        ranking=Ranking(radius_m=3000, top_k=3, position_max_age_s=300),
    )


def feed_tail(deps: Deps) -> Tail[FeedEntry]:
    assert isinstance(deps.log, MemoryLog)
    return deps.log.tails[Topics().notifications_feed]


def orders_tail(deps: Deps) -> Tail[Order]:
    assert isinstance(deps.log, MemoryLog)
    return deps.log.tails[Topics().notifications_orders]


def commands(deps: Deps) -> list[tuple[str, str | None, str | None]]:
    """(action, unit_id, reason) of every command sent to the alarms service, in order."""
    sent = deps.publisher.sent  # type: ignore[attr-defined]
    return [
        (event.action, event.unit_id, event.reason)
        for topic, _, event in sent
        if topic == Topics().alarms_commands and isinstance(event, AlarmCommand)
    ]


def deliveries(deps: Deps) -> list[tuple[str, str]]:
    """(recipient, state) of every delivery event published, in order."""
    sent = deps.publisher.sent  # type: ignore[attr-defined]
    return [
        (event.recipient, event.state)
        for topic, _, event in sent
        if topic == Topics().notifications_deliveries and isinstance(event, DeliveryChanged)
    ]


def status(unit: str, value: str, version: int = 1) -> UnitStatusChanged:
    return UnitStatusChanged(
        unit_id=unit,
        status=value,  # type: ignore[arg-type]
        previous="available",
        actor=unit,
        version=version,
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
    subscription = feed_tail(deps).subscribe(None)
    first = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    second = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert first is not None and second is None
    assert subscription.queue.qsize() == 1


async def test_no_unit_in_range_still_tells_the_dispatcher(registry: CollectorRegistry) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("outside", 13000)])
    entry = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert entry is not None and entry.nearest_units == []
    assert (entry.radius_m, entry.widened) == (12000, True)  # 3 km, then 6, then 12
    assert registry.get_sample_value("safecampus_alarms_without_nearby_unit_total") == 1
    assert deliveries(deps) == []


async def test_nobody_in_range_widens_the_radius_and_says_so(registry: CollectorRegistry) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("far", 5000), fix("farther", 9000)])
    entry = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert entry is not None and (entry.radius_m, entry.widened) == (6000, True)
    assert [u.unit_id for u in entry.nearest_units] == ["far"]
    assert registry.get_sample_value("safecampus_alarms_radius_widened_total") == 1


async def test_the_staffed_guard_post_at_the_school_is_ranked_first(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    fixes = [fix("car", 50), fix("gate", 150), fix("other-post", 1500)]
    await service.record_positions(deps=deps, fixes=fixes)
    await service.record_status(deps=deps, change=status("gate", "on_post"))
    await service.record_status(deps=deps, change=status("other-post", "on_post"))
    entry = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert entry is not None
    ranking = [(u.unit_id, u.guard_post) for u in entry.nearest_units]
    assert ranking == [("gate", True), ("car", False), ("other-post", False)]


async def test_a_busy_unit_is_not_told(registry: CollectorRegistry) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("busy", 100), fix("free", 900)])
    await service.record_status(deps=deps, change=status("busy", "busy"))
    entry = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert entry is not None and [u.unit_id for u in entry.nearest_units] == ["free"]


async def test_the_first_unit_gets_an_order_once_even_when_the_event_comes_again(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("near", 100), fix("next", 800)])
    stream = orders_tail(deps).subscribe("near")
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)  # redelivered
    order = stream.queue.get_nowait()
    assert stream.queue.empty()
    assert (order.unit_id, order.rank, order.state, order.silent) == ("near", 1, "sent", True)
    assert [u.unit_id for u in order.next_units] == ["next"]
    assert order.deadline == NOW + timedelta(seconds=20)
    assert deliveries(deps) == [("unit:near", "sent")]


async def test_an_order_lost_to_a_crash_after_the_feed_entry_is_sent_on_redelivery(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("near", 100)])
    entry = feed.feed_entry(deps=deps, event=raised(), now=NOW)
    await feed.add_to_feed(deps=deps, event=raised(), entry=entry)  # then a crash
    assert entry.nearest_units and deliveries(deps) == []
    again = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert again is None, "the dispatcher was already told"
    assert deliveries(deps) == [("unit:near", "sent")]


async def test_a_retried_raise_shows_the_unit_its_stored_order_at_once(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first order was stored, then appending it to the unit's log failed: the retry
    finds the order stored and appends it (before, nothing showed it to the unit, which was
    passed over 20 s later)."""
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("near", 100)])
    log, real_append = deps.log, deps.log.append

    async def orders_log_gone(topic: str, key: str, item: object) -> int:
        if topic == Topics().notifications_orders:
            raise ConnectionError("broker unreachable")
        return await real_append(topic, key, item)  # type: ignore[arg-type]

    monkeypatch.setattr(log, "append", orders_log_gone)
    with pytest.raises(ConnectionError):
        await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    monkeypatch.setattr(log, "append", real_append)
    stream = orders_tail(deps).subscribe("near")
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)  # the retry
    order = stream.queue.get_nowait()
    assert (order.unit_id, order.state) == ("near", "sent")
    assert stream.queue.empty()


async def test_a_redelivered_raise_keeps_its_first_ranking_though_the_units_moved(
    registry: CollectorRegistry,
) -> None:
    """The feed entry and the first order are written at once. After a crash between the
    two, the redelivered event is ranked anew: the order written for the unit now nearest is
    taken back, and the unit the dispatchers were shown first gets the order."""
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("first", 100), fix("other", 900)])
    entry = feed.feed_entry(deps=deps, event=raised(), now=NOW)
    await feed.add_to_feed(deps=deps, event=raised(), entry=entry)  # then a crash
    moved = [fix("first", 2500), fix("other", 50)]
    await service.record_positions(
        deps=deps,
        fixes=[f.model_copy(update={"recorded_at": NOW + timedelta(seconds=1)}) for f in moved],
    )
    stream = orders_tail(deps).subscribe("other")
    assert await service.on_lifecycle(deps=deps, event=raised(), now=NOW) is None
    assert deliveries(deps) == [("unit:first", "sent")]
    assert await deps.repo.get_order(service.order_id(raised().alarm_id, "other")) is None
    later = utcnow() + RELAY_AFTER
    assert await service.relay_deliveries(deps=deps, now=later) == 0, "nor its event, later"
    assert stream.queue.empty(), "the unit ranked first only now was never told"
    order = await deps.repo.get_order(service.order_id(raised().alarm_id, "first"))
    assert order is not None and [u.unit_id for u in order.next_units] == ["other"]


async def test_test_presses_give_units_no_orders(registry: CollectorRegistry) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("near", 100)])
    drill = raised().model_copy(update={"test": True})
    entry = await service.on_lifecycle(deps=deps, event=drill, now=NOW)
    assert entry is not None and entry.nearest_units, "dispatchers still see the ranking"
    assert deliveries(deps) == []


async def test_an_unacknowledged_order_passes_to_the_next_unit_and_warns_the_dispatcher(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    fixes = [fix("first", 100), fix("second", 800), fix("third", 1500)]
    await service.record_positions(deps=deps, fixes=fixes)
    feed = feed_tail(deps).subscribe(None)
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=19)) == 0
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=21)) == 1
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=22)) == 0
    assert deliveries(deps) == [
        ("unit:first", "sent"),
        ("unit:first", "expired"),
        ("unit:second", "sent"),
    ]
    feed.queue.get_nowait()  # the raise
    warning = feed.queue.get_nowait()
    assert (warning.change, warning.passed_over_unit, warning.ordered_unit) == (
        "passed_over",
        "first",
        "second",
    )
    assert warning.state == "raised" and warning.school == SCHOOL
    assert registry.get_sample_value("safecampus_units_passed_over_total") == 1
    (second,) = await deps.repo.orders_after("second", 0, limit=10)
    assert (second.rank, [u.unit_id for u in second.next_units]) == (2, ["third"])


async def test_acknowledging_an_order_once_twice_or_too_late(registry: CollectorRegistry) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("first", 100), fix("second", 800)])
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    alarm_id = raised().alarm_id
    first = service.order_id(alarm_id, "first")
    second = service.order_id(alarm_id, "second")
    await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=21))
    with pytest.raises(service.OrderRefused, match="expired"):
        await service.acknowledge(deps=deps, unit_id="first", order_id=first, now=NOW)
    with pytest.raises(LookupError):
        await service.acknowledge(deps=deps, unit_id="first", order_id=second, now=NOW)
    later = NOW + timedelta(seconds=30)
    taken = await service.acknowledge(deps=deps, unit_id="second", order_id=second, now=later)
    again = await service.acknowledge(deps=deps, unit_id="second", order_id=second, now=later)
    assert taken.state == again.state == "acknowledged"
    assert deliveries(deps)[-1] == ("unit:second", "acknowledged")
    assert [d for d in deliveries(deps) if d[1] == "acknowledged"] == [
        ("unit:second", "acknowledged")
    ]
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(hours=1)) == 0
    assert registry.get_sample_value("safecampus_unit_order_ack_seconds_count") == 1


async def test_assigning_a_unit_settles_the_open_order(registry: CollectorRegistry) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("first", 100)])
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assigned = raised().model_copy(
        update={
            "event_id": stable_id("assigned"),
            "state": "unit_assigned",
            "assigned_unit": "first",
        }
    )
    await service.on_lifecycle(deps=deps, event=assigned, now=NOW)
    assert deliveries(deps) == [("unit:first", "sent"), ("unit:first", "acknowledged")]
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(hours=1)) == 0


async def test_a_unit_the_dispatcher_chose_before_its_turn_gets_its_order_taken_once(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("first", 100), fix("second", 900)])
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    stream = orders_tail(deps).subscribe("second")
    assigned = raised().model_copy(
        update={
            "event_id": stable_id("assigned"),
            "state": "unit_assigned",
            "assigned_unit": "second",
            "actor": "alice",
        }
    )
    for _ in range(2):  # the event again: one order
        await service.on_lifecycle(deps=deps, event=assigned, now=NOW)
    (order,) = [o for o in deps.repo.orders.values() if o.unit_id == "second"]  # type: ignore[attr-defined]
    assert (order.state, order.rank, order.reason) == ("acknowledged", 2, "assigned by alice")
    assert round(order.distance_m, -1) == 900 and order.school == SCHOOL
    assert stream.queue.qsize() == 1, "on the unit's stream, once"
    taken = await service.acknowledge(deps=deps, unit_id="second", order_id=order.order_id, now=NOW)
    assert taken.state == "acknowledged", "the terminal's accept: the same answer"
    assert ("unit:first", "expired") in deliveries(deps)
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(hours=1)) == 0


async def test_the_schools_plan_comes_with_its_alarm_to_the_dispatcher_and_the_unit(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    content = PlanContent(risks=["紧邻国道"], gate_notes="南门常闭", contacts=[])
    for version in (2, 1):  # the older one, later, changes nothing
        plan = SchoolPlanChanged(
            school_id=SCHOOL.school_id, version=version, plan=content, edited_by="li"
        )
        await service.on_school_plan(deps=deps, plan=plan)
    await service.record_positions(deps=deps, fixes=[fix("near", 100)])
    entry = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert entry is not None and (entry.plan, entry.plan_version) == (content, 2)
    (order,) = deps.repo.orders.values()  # type: ignore[attr-defined]
    assert (order.plan, order.plan_version) == (content, 2), "the unit has it too"
    other = make_deps(CollectorRegistry())  # another instance: it learns by merging the store
    other.repo.plans = deps.repo.plans  # type: ignore[attr-defined]
    await service.refresh_plans(deps=other, since=None)
    assert other.plans.of(SCHOOL.school_id) == (2, content)


async def test_a_slow_stream_client_is_marked_to_resume(registry: CollectorRegistry) -> None:
    deps = make_deps(registry)
    subscription = feed_tail(deps).subscribe(None)
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
        update={
            "event_id": stable_id("fold"),
            "change": "folded",
            "press_count": 2,
            "severity": 2,
            "kinds": [raised().kind, "fire"],
        }
    )
    folded = await service.on_lifecycle(deps=deps, event=folded_event, now=NOW)
    assert first is not None and folded is not None
    assert [u.unit_id for u in first.nearest_units] == ["near"]
    assert first.kinds == [raised().kind], "an event without kinds: its kind"
    assert (folded.change, folded.severity, folded.nearest_units) == ("folded", 2, [])
    assert folded.kinds == [raised().kind, "fire"], "the dispatchers see every kind pressed"
    assert registry.get_sample_value("safecampus_alarm_to_dispatcher_seconds_count") == 1


async def pass_over_with_the_database_gone_at(deps: Deps, call: str) -> None:
    """A pass-over round in which the repository's `call` fails: the database went away."""

    async def database_gone(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database unreachable")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deps.repo, call, database_gone)
        with pytest.raises(ConnectionError):
            await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=21))


async def test_a_pass_over_interrupted_half_way_is_completed_once_by_the_next_round(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("first", 100), fix("second", 800)])
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    await pass_over_with_the_database_gone_at(deps, "change_order")
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=22)) == 1
    assert deliveries(deps) == [
        ("unit:first", "sent"),
        ("unit:first", "expired"),
        ("unit:second", "sent"),
    ]
    assert len(await deps.repo.orders_after("second", 0, limit=10)) == 1


async def test_an_order_acknowledged_as_it_falls_due_is_not_passed_on(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round read the order open; the unit acknowledged before the round changed it. The
    next unit was ordered before the compare-and-set found that out: two units sent."""
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("first", 100), fix("second", 800)])
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    read_open = await deps.repo.overdue_orders(NOW + timedelta(seconds=21))
    (order,) = read_open
    await service.acknowledge(deps=deps, unit_id="first", order_id=order.order_id, now=NOW)

    async def as_read_before(now: datetime) -> list[Order]:
        return read_open

    monkeypatch.setattr(deps.repo, "overdue_orders", as_read_before)
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=21)) == 0
    assert await deps.repo.orders_after("second", 0, limit=10) == []
    assert ("unit:second", "sent") not in deliveries(deps)


async def test_a_pass_over_interrupted_after_the_expiry_orders_the_next_unit_next_round(
    registry: CollectorRegistry,
) -> None:
    """The expiry comes first now; the order remembers that its successor is still owed, so
    a crash between the two never leaves the alarm with nobody asked."""
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("first", 100), fix("second", 800)])
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    first_stream = orders_tail(deps).subscribe("first")
    await pass_over_with_the_database_gone_at(deps, "insert_order")
    assert await deps.repo.orders_after("second", 0, limit=10) == []
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=22)) == 1
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=23)) == 0
    assert len(await deps.repo.orders_after("second", 0, limit=10)) == 1
    assert deliveries(deps).count(("unit:second", "sent")) == 1
    expired = first_stream.queue.get_nowait()
    assert (expired.unit_id, expired.state) == ("first", "expired"), "its unit is told"


async def test_a_delivery_event_whose_publish_failed_is_published_from_the_order_outbox(
    registry: CollectorRegistry,
) -> None:
    """The order and its `sent` event are one write; the publish comes after the handler, and
    if the broker refuses it the event waits in the order's outbox for the next round."""
    failures = background_failures(registry)
    deps = replace(make_deps(registry), afterwards=Afterwards("delivery-publish", failures))
    publisher = deps.publisher
    real_publish = publisher.publish

    async def broker_gone(topic: str, key: str, event: object) -> None:
        if topic == Topics().notifications_deliveries:
            raise ConnectionError("broker unreachable")
        await real_publish(topic, key, event)  # type: ignore[arg-type]

    await service.record_positions(deps=deps, fixes=[fix("near", 100)])
    publisher.publish = broker_gone  # type: ignore[method-assign]
    entry = await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    assert entry is not None
    await deps.afterwards.drain()
    assert deliveries(deps) == []
    assert (
        registry.get_sample_value(
            "safecampus_background_failures_total", {"job": "delivery-publish", "kind": "error"}
        )
        == 1
    )
    publisher.publish = real_publish  # type: ignore[method-assign]
    assert await service.relay_deliveries(deps=deps, now=utcnow()) == 0, "still the handler's"
    later = utcnow() + RELAY_AFTER
    assert await service.relay_deliveries(deps=deps, now=later) == 1
    assert deliveries(deps) == [("unit:near", "sent")]
    assert await service.relay_deliveries(deps=deps, now=later) == 0, "published: gone"


async def test_a_slow_order_holds_up_neither_another_units_order_nor_the_feed(
    registry: CollectorRegistry,
) -> None:
    """One unit's slow insert must not queue the other alarms behind it (one lock for all
    orders did, for seconds, on the embedded database)."""

    class OneSlowUnit(InMemoryNotificationRepository):
        async def insert_order(self, order: Order, *, delivery: DeliveryChanged) -> bool:
            if order.unit_id == "u1":
                await asyncio.sleep(0.3)
            return await super().insert_order(order, delivery=delivery)

    deps = replace(make_deps(registry), repo=OneSlowUnit())
    await service.record_positions(deps=deps, fixes=[fix("u1", 100), fix("u2", 5000)])
    elsewhere = SCHOOL.model_copy(update={"lat": SCHOOL.lat + 5000 * DEG_PER_M})
    near_u2 = raised("a2").model_copy(update={"school": elsewhere})
    u2_orders, feed = orders_tail(deps).subscribe("u2"), feed_tail(deps).subscribe(None)
    slow = asyncio.ensure_future(service.on_lifecycle(deps=deps, event=raised("a1"), now=NOW))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(service.on_lifecycle(deps=deps, event=near_u2, now=NOW), timeout=0.2)
    assert u2_orders.queue.get_nowait().unit_id == "u2"
    assert feed.queue.qsize() == 2, "both alarms are on the dispatchers' feed"
    await slow


async def test_the_first_order_dispatches_the_alarm_and_nobody_in_range_escalates_it(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("near", 100)])
    await service.on_lifecycle(deps=deps, event=raised("a1"), now=NOW)
    await service.on_lifecycle(deps=deps, event=raised("a1"), now=NOW)  # redelivered
    far = raised("a2").model_copy(update={"school": SCHOOL.model_copy(update={"lat": 36.5})})
    await service.on_lifecycle(deps=deps, event=far, now=NOW)
    drill = raised("a3").model_copy(update={"test": True})
    await service.on_lifecycle(deps=deps, event=drill, now=NOW)
    assert commands(deps) == [
        ("dispatch", None, "first unit ordered"),
        ("dispatch", None, "first unit ordered"),
        ("escalate", None, "no_unit_in_range"),
    ]
    sent = deps.publisher.sent  # type: ignore[attr-defined]
    ids = [e.command_id for t, _, e in sent if t == Topics().alarms_commands]
    assert ids[0] == ids[1] != ids[2], "the same command again: applied once by alarms"


async def test_a_unit_accepting_its_order_is_assigned_by_the_alarms_service(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    order_id = await accepted_by_near(deps)
    await service.acknowledge(deps=deps, unit_id="near", order_id=order_id, now=NOW)
    assigns = [c for c in commands(deps) if c[0] == "assign"]
    assert assigns == [("assign", "near", f"accepted order {order_id}")] * 2
    sent = deps.publisher.sent  # type: ignore[attr-defined]
    ids = {e.command_id for t, _, e in sent if t == Topics().alarms_commands and e.unit_id}
    assert len(ids) == 1
    command = next(e for t, _, e in sent if t == Topics().alarms_commands and e.unit_id)
    assert (command.role, command.actor) == ("system", "notifications")


async def test_a_used_up_ranking_is_ranked_again_from_fresh_positions_then_escalated(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    await service.record_positions(deps=deps, fixes=[fix("first", 100)])
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    later = [fix("arrived", 400), fix("first", 100)]
    await service.record_positions(
        deps=deps,
        fixes=[f.model_copy(update={"recorded_at": NOW + timedelta(seconds=10)}) for f in later],
    )
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=21)) == 1
    (order,) = await deps.repo.orders_after("arrived", 0, limit=10)
    assert (order.rank, order.next_units) == (2, []), "the unit asked already is not again"
    assert await service.pass_over_overdue(deps=deps, now=NOW + timedelta(seconds=42)) == 1
    assert commands(deps)[-1] == ("escalate", None, "no_unit_in_range")
    assert [d for d in deliveries(deps) if d[1] == "sent"] == [
        ("unit:first", "sent"),
        ("unit:arrived", "sent"),
    ]


async def test_an_entry_whose_append_failed_is_appended_by_the_relay_once(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = make_deps(registry)
    log = deps.log
    real_append = log.append

    async def broker_gone(*args: object, **kwargs: object) -> int:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(log, "append", broker_gone)
    with pytest.raises(ConnectionError):
        await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    monkeypatch.setattr(log, "append", real_append)
    feed = feed_tail(deps).subscribe(None)
    assert await service.relay_unlogged(deps=deps, now=utcnow()) == 0, "not before RELAY_AFTER"
    assert await service.relay_unlogged(deps=deps, now=utcnow() + RELAY_AFTER) == 1
    assert await service.relay_unlogged(deps=deps, now=utcnow() + RELAY_AFTER) == 0
    entry = feed.queue.get_nowait()
    assert entry.event_id == raised().event_id and entry.seq == 1
    stored = await deps.repo.feed_entry(str(raised().event_id))
    assert stored is not None and stored.seq == 1, "its position recorded"


async def accepted_by_near(deps: Deps) -> uuid.UUID:
    """An alarm raised with unit `near` 100 m away, which accepts its order; the order's id."""
    await service.record_positions(deps=deps, fixes=[fix("near", 100)])
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    order_id = service.order_id(raised().alarm_id, "near")
    await service.acknowledge(deps=deps, unit_id="near", order_id=order_id, now=NOW)
    return order_id


def resolved(alarm: str, **fields: object) -> CommandResolved:
    values: dict[str, object] = {
        "command_id": stable_id("command", alarm, str(fields.get("action"))),
        "alarm_id": raised(alarm).alarm_id,
        "actor": "alice",
        "role": "dispatcher",
        "status": "refused",
    }
    return CommandResolved.model_validate(values | fields)


async def test_a_refused_command_is_shown_with_its_reason_an_expected_one_is_not(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    feed = feed_tail(deps).subscribe(None)
    no = resolved("a1", action="acknowledge", reason="already acknowledged")
    await service.on_command_result(deps=deps, result=no, now=NOW)
    await service.on_command_result(deps=deps, result=no, now=NOW)  # told again
    race = resolved("a1", action="dispatch", actor="notifications", role="system")
    await service.on_command_result(deps=deps, result=race, now=NOW)
    fine = resolved("a1", action="resolve", status="applied")
    await service.on_command_result(deps=deps, result=fine, now=NOW)
    entry = feed.queue.get_nowait()
    assert feed.queue.empty()
    assert (entry.change, entry.reason, entry.actor) == ("refused", "already acknowledged", "alice")
    assert entry.command_id == no.command_id and entry.school == SCHOOL


async def test_a_refused_acceptance_closes_the_units_order_on_its_stream(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    order_id = await accepted_by_near(deps)
    stream = orders_tail(deps).subscribe("near")
    no = resolved(
        "a1",
        action="assign",
        actor="notifications",
        role="system",
        unit_id="near",
        reason="alarm is cancelled",
    )
    await service.on_command_result(deps=deps, result=no, now=NOW)
    await service.on_command_result(deps=deps, result=no, now=NOW)
    closed = stream.queue.get_nowait()
    assert stream.queue.empty(), "once"
    assert (closed.order_id, closed.state) == (order_id, "expired")
    assert closed.reason == "not assigned: alarm is cancelled"


def gap_event(state: str = "empty", *, final: bool = False) -> GuardPostWindow:
    return GuardPostWindow(
        event_id=stable_id("gap", state, str(final)),
        post_id="P-S1",
        school_id="S1",
        unit_id="U9",
        day=NOW.date(),
        window="morning",
        window_start=NOW,
        window_end=NOW + timedelta(minutes=40),
        state=state,  # type: ignore[arg-type]
        final=final,
        last_seen_m=850.0,
    )


async def test_a_guard_post_empty_in_its_window_is_an_entry_of_its_own_once(
    registry: CollectorRegistry,
) -> None:
    county = County.model_validate(
        {"name": "t", "schools": [SCHOOL.model_dump()], "devices": [], "units": []}
    )
    deps = replace(make_deps(registry), county=county)
    feed_stream = feed_tail(deps).subscribe(None)
    await service.on_guard_post(deps=deps, window=gap_event())
    await service.on_guard_post(deps=deps, window=gap_event())  # redelivered
    await service.on_guard_post(deps=deps, window=gap_event("staffed", final=True))
    await service.on_guard_post(deps=deps, window=gap_event("empty", final=True))
    gap = feed_stream.queue.get_nowait()
    assert feed_stream.queue.empty(), "once; outcomes at the window's end are for the reports"
    assert isinstance(gap, PostGap) and gap.entry_type == "guard_post_gap"
    assert (gap.post_id, gap.unit_id, gap.school.name, gap.last_seen_m) == (
        "P-S1",
        "U9",
        "一中",
        850,
    )
    assert [e.entry_type for e in await deps.repo.feed_after(0, limit=10)] == ["guard_post_gap"]
    unknown = gap_event().model_copy(update={"school_id": "S404", "event_id": stable_id("x")})
    with pytest.raises(LookupError, match="S404"):
        await service.on_guard_post(deps=deps, window=unknown)


async def test_a_button_trouble_and_its_restoral_are_feed_entries_of_their_own_once(
    registry: CollectorRegistry,
) -> None:
    deps = make_deps(registry)
    feed_stream = feed_tail(deps).subscribe(None)
    raised = DeviceTrouble(
        event_id=stable_id("trouble", "raised"),
        occurred_at=NOW,
        trouble_id=stable_id("trouble"),
        device_id="D1",
        school=SCHOOL,
        kind="offline",
        status="raised",
        since=NOW,
    )
    restored = raised.model_copy(
        update={"event_id": stable_id("trouble", "restored"), "status": "restored"}
    )
    for event in (raised, raised, restored):  # the first redelivered
        await service.on_device_trouble(deps=deps, trouble=event)
    told = [feed_stream.queue.get_nowait() for _ in range(2)]
    assert feed_stream.queue.empty()
    assert [(e.entry_type, e.status) for e in told] == [  # type: ignore[union-attr]
        ("device_trouble", "raised"),
        ("device_trouble", "restored"),
    ]
    stored = await deps.repo.feed_after(0, limit=10)
    assert [(e.entry_type, e.event_id) for e in stored] == [
        ("device_trouble", raised.event_id),
        ("device_trouble", restored.event_id),
    ]
    frame = FEED.frame(stored[0])
    assert "event: device_trouble" in frame and '"device_id":"D1"' in frame


async def test_an_order_taken_before_its_stream_marked_it_was_delivered_first_once(
    registry: CollectorRegistry,
) -> None:
    """A fast terminal acknowledges before its stream has recorded writing the order out."""
    deps = make_deps(registry)
    order_id = await accepted_by_near(deps)
    order = await deps.repo.get_order(order_id)
    assert order is not None
    await service.mark_delivered(deps=deps, order=order)  # the stream, late: changes nothing
    assert deliveries(deps) == [
        ("unit:near", "sent"),
        ("unit:near", "delivered"),
        ("unit:near", "acknowledged"),
    ]
