"""Repositories against the real MongoDB-protocol server over TCP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from services.alarms.models import Alarm
from services.alarms.repository import AlarmFilter, MongoAlarmRepository
from services.notifications.board import UnitBoard
from services.notifications.repository import MongoNotificationRepository
from services.patrols.history import history_key
from services.patrols.repository import MongoPatrolRepository
from services.reporting.repository import MongoReportingRepository
from shared.events import (
    AlarmLifecycle,
    AlarmPressed,
    PositionReported,
    SchoolRef,
    stable_id,
    utcnow,
)
from shared.provisioning import Unit
from shared.topics import Topics
from tests.conftest import Namespace
from tests.fakes.publisher import RecordingPublisher

NOW = datetime.now(UTC).replace(microsecond=0)
SCHOOL = SchoolRef(school_id="S1", name="一中", township="会师镇", lat=35.69, lon=105.05)
DEG_PER_M = 0.001 / 111.2
Client = AsyncMongoClient[dict[str, Any]]


def pressed(press: str) -> AlarmPressed:
    return AlarmPressed(
        press_id=stable_id("press", press),
        alarm_id=stable_id("alarm", press),
        school_id="S1",
        device_id="D1",
        kind="intrusion",
        silent=True,
        test=False,
        location={"building": "A", "floor": 2, "room": "201"},  # type: ignore[arg-type]
        pressed_at=NOW,
        received_at=NOW,
    )


async def test_press_recorded_once_and_alarm_created_once(
    namespace: Namespace, mongo: Client
) -> None:
    repo = MongoAlarmRepository(mongo[f"{namespace.db_prefix}alarms"])
    await repo.ensure_indexes()
    event = pressed("p1")
    first = await repo.record_press(event)
    second = await repo.record_press(pressed("p1"))
    assert first.new and not second.new and not second.published
    assert second.event.event_id == event.event_id
    await repo.mark_press_published(event.press_id)
    assert (await repo.record_press(event)).published

    alarm = Alarm.from_press(event, SCHOOL, NOW)
    stored = await repo.create_alarm(alarm)
    again = await repo.create_alarm(
        alarm.model_copy(update={"raised_at": NOW + timedelta(seconds=5)})
    )
    assert stored.raised_at == again.raised_at == NOW
    assert (await repo.get(event.alarm_id)) == stored
    assert [a.alarm_id for a in await repo.find(AlarmFilter())] == [event.alarm_id]


async def test_the_stored_board_reloads_and_ranks_closest_first_fresh_only(
    namespace: Namespace, mongo: Client
) -> None:
    db = mongo[f"{namespace.db_prefix}notifications"]
    await db["unit_positions"].create_index([("loc", "2dsphere")])  # the old layout
    await db["unit_positions"].insert_one(  # written before the board: a GeoJSON point
        {"_id": "old", "loc": {"type": "Point", "coordinates": [SCHOOL.lon, SCHOOL.lat + 0.05]}}
        | {"recorded_at": NOW}
    )
    repo = MongoNotificationRepository(db)
    await repo.ensure_indexes()
    assert "loc_2dsphere" not in await db["unit_positions"].index_information()
    placed = {"far": 2500, "near": 300, "mid": 1200, "fourth": 2900, "outside": 3500}
    fixes = [
        PositionReported(
            unit_id=unit, lat=SCHOOL.lat + metres * DEG_PER_M, lon=SCHOOL.lon, recorded_at=NOW
        )
        for unit, metres in placed.items()
    ]
    stale_at = NOW - timedelta(minutes=10)
    fixes.append(
        PositionReported(unit_id="stale", lat=SCHOOL.lat, lon=SCHOOL.lon, recorded_at=stale_at)
    )
    await repo.upsert_positions(fixes)
    board = UnitBoard()  # a restarted instance
    board.merge(await repo.load_units())
    found = board.nearest(
        lat=SCHOOL.lat,
        lon=SCHOOL.lon,
        radius_m=3000,
        limit=3,
        fresh_since=NOW - timedelta(minutes=5),
        guard_post_radius_m=200,
    )
    assert [u.unit_id for u in found] == ["near", "mid", "far"]
    assert [round(u.distance_m, -1) for u in found] == [300, 1200, 2500]
    assert len(board) == 7, "the old GeoJSON document loads too"
    assert await repo.load_units(changed_since=datetime.now(UTC) + timedelta(minutes=1)) == []


async def test_an_older_fix_never_replaces_a_newer_one(namespace: Namespace, mongo: Client) -> None:
    repo = MongoNotificationRepository(mongo[f"{namespace.db_prefix}notifications"])
    await repo.ensure_indexes()
    newer = PositionReported(unit_id="u", lat=35.70, lon=105.0, recorded_at=NOW)
    older = PositionReported(
        unit_id="u", lat=35.60, lon=105.0, recorded_at=NOW - timedelta(seconds=30)
    )
    await repo.upsert_positions([older, newer])  # newest of a batch wins, whatever the order
    await repo.upsert_positions([older])  # an older batch later changes nothing
    await repo.upsert_positions([newer])  # nor does a redelivery
    (unit,) = await repo.load_units()
    assert (unit.unit_id, unit.lat, unit.recorded_at) == ("u", 35.70, NOW)


async def test_alarms_by_school_counts_tests_apart_and_replay_is_stable(
    namespace: Namespace, mongo: Client
) -> None:
    repo = MongoReportingRepository(mongo[f"{namespace.db_prefix}reporting"])
    await repo.ensure_indexes()

    def raised(alarm: str, school: SchoolRef, test: bool) -> AlarmLifecycle:
        return AlarmLifecycle(
            event_id=stable_id(alarm, "raised"),
            occurred_at=NOW,
            alarm_id=stable_id(alarm),
            state="raised",
            school=school,
            kind="fire",
            silent=False,
            test=test,
            location={"building": "A", "floor": 1, "room": "1"},  # type: ignore[arg-type]
            device_id="D",
            pressed_at=NOW,
        )

    other = SCHOOL.model_copy(update={"school_id": "S2", "township": "河畔镇"})
    events = [raised("a", SCHOOL, False), raised("b", SCHOOL, True), raised("c", other, False)]
    for event in events + events:
        await repo.record_alarm(event)
    rows = await repo.alarms_by_school(since=None, until=None, township=None)
    assert [(r.school_id, r.alarms, r.tests) for r in rows] == [("S1", 1, 1), ("S2", 1, 0)]
    rows = await repo.alarms_by_school(since=None, until=None, township="河畔镇")
    assert [r.school_id for r in rows] == ["S2"]
    rows = await repo.alarms_by_school(since=NOW + timedelta(seconds=1), until=None, township=None)
    assert rows == []


async def test_position_batch_stored_once_and_unit_moved_to_its_newest_fix(
    namespace: Namespace, mongo: Client
) -> None:
    repo = MongoPatrolRepository(mongo[f"{namespace.db_prefix}patrols"])
    await repo.ensure_indexes()
    unit = Unit(
        unit_id="U1", kind="patrol_car", callsign="c", station="s", home_lat=35.7, home_lon=105.0
    )
    await repo.provision_units([unit])
    batch = [
        PositionReported(
            event_id=stable_id("fix", "U1", str(i)),
            unit_id="U1",
            lat=35.70 + i * 0.001,
            lon=105.0,
            recorded_at=NOW - timedelta(seconds=10 - i),
        )
        for i in range(5)
    ]
    await repo.record_positions(list(reversed(batch)))
    await repo.record_positions(batch)  # the same batch again stores nothing new
    await repo.record_positions(batch[:2])
    (newest,) = await repo.newest_in_history(["U1", "U2"])  # what a restart moves it to
    assert (newest.unit_id, newest.recorded_at, newest.lat) == (
        "U1",
        batch[-1].recorded_at,
        batch[-1].lat,
    )
    await repo.move_units(list(reversed(batch)))
    await repo.move_units(batch[:2])  # older fixes never move the unit back
    state = await repo.get_unit("U1")
    assert state is not None and state.lat == batch[-1].lat
    assert state.recorded_at == batch[-1].recorded_at
    history = await repo.history("U1", since=NOW - timedelta(minutes=5), until=NOW)
    assert [(f.recorded_at, f.lat) for f in history] == [(f.recorded_at, f.lat) for f in batch]
    later = await repo.history("U1", since=batch[3].recorded_at, until=NOW)
    assert len(later) == 2


async def test_history_is_keyed_by_unit_and_time_pruned_by_range_and_sheds_old_indexes(
    namespace: Namespace, mongo: Client
) -> None:
    db = mongo[f"{namespace.db_prefix}patrols"]
    await db["positions"].create_index([("unit_id", 1), ("recorded_at", 1)])  # the old layout
    await db["units"].create_index([("loc", "2dsphere")])  # before: nothing queried it
    repo = MongoPatrolRepository(db)
    await repo.ensure_indexes()
    assert list(await db["positions"].index_information()) == ["_id_"]
    assert list(await db["units"].index_information()) == ["_id_"]

    def fix(unit_id: str, minutes_ago: int, lat: float = 35.7) -> PositionReported:
        at = NOW - timedelta(minutes=minutes_ago)
        return PositionReported(
            event_id=stable_id("fix", unit_id, at.isoformat()),
            unit_id=unit_id,
            lat=lat,
            lon=105.0,
            recorded_at=at,
        )

    # "U10" shares a prefix with "U1": the key's separator keeps their ranges apart
    await repo.record_positions([fix(u, m) for u in ("U1", "U10") for m in (90, 30, 5)])
    await repo.record_positions([fix("U1", 60, lat=36.5)])
    assert [
        f.recorded_at for f in await repo.history("U1", since=NOW - timedelta(hours=2), until=NOW)
    ] == [NOW - timedelta(minutes=m) for m in (90, 60, 30, 5)]
    in_box = await repo.fixes_in_box(
        (35.6, 35.8, 104.9, 105.1), unit_ids=["U1"], since=NOW - timedelta(hours=2), until=NOW
    )
    assert sorted(at for _, at, _, _ in in_box) == [NOW - timedelta(minutes=m) for m in (90, 30, 5)]

    pruned = await repo.prune_history(unit_ids=["U1", "U10"], before=NOW - timedelta(minutes=45))
    assert pruned == 3  # U1 at 90 and 60 minutes, U10 at 90
    left = await repo.history("U10", since=NOW - timedelta(hours=2), until=NOW)
    assert [f.recorded_at for f in left] == [NOW - timedelta(minutes=m) for m in (30, 5)]


async def test_history_buckets_survive_a_regrouped_redelivery_and_read_old_documents(
    namespace: Namespace, mongo: Client
) -> None:
    """A batch redelivered with more fixes stores only the new ones; one that starts elsewhere
    may store a fix twice, and reads still give each fix once, with fixes stored one per
    document before buckets."""
    db = mongo[f"{namespace.db_prefix}patrols"]
    repo = MongoPatrolRepository(db)
    await repo.ensure_indexes()
    start = NOW.replace(second=0, microsecond=0) - timedelta(minutes=10)
    fixes = [
        PositionReported(
            unit_id="U1",
            lat=35.7 + i * 0.001,
            lon=105.0,
            recorded_at=start + timedelta(seconds=5 * i, microseconds=7),
        )
        for i in range(16)  # 80 s: two minutes
    ]
    assert await repo.record_positions(fixes[:5]) == 5
    assert await repo.record_positions(fixes[:8]) == 3  # the same first fix: the rest only
    assert await repo.record_positions(fixes[:8]) == 0
    assert await repo.record_positions(fixes[6:16]) == 10  # 6 and 7 twice, in another bucket
    await db["positions"].insert_one(  # a fix stored before buckets, one per document
        {"_id": history_key("U1", start - timedelta(seconds=30)), "unit_id": "U1"}
        | {"recorded_at": start - timedelta(seconds=30), "lat": 35.0, "lon": 105.0}
    )
    stored = await repo.history("U1", since=start - timedelta(minutes=1), until=NOW)
    assert [f.recorded_at for f in stored] == [
        start - timedelta(seconds=30),
        *[f.recorded_at for f in fixes],  # to the microsecond
    ]
    assert await db["positions"].count_documents({}) == 5  # 0-4, 5-7, 6-11, 12-15, the old one
    (newest,) = await repo.newest_in_history(["U1"])
    assert newest.recorded_at == fixes[-1].recorded_at
    middle = await repo.history(
        "U1", since=fixes[7].recorded_at, until=fixes[9].recorded_at + timedelta(microseconds=1)
    )
    assert [f.lat for f in middle] == [f.lat for f in fixes[7:10]]


async def test_alarm_compare_and_set_folds_and_finds_by_alias(
    namespace: Namespace, mongo: Client
) -> None:
    from services.alarms.models import Alarm as StoredAlarm
    from shared.events import Location

    repo = MongoAlarmRepository(mongo[f"{namespace.db_prefix}alarms"])
    await repo.ensure_indexes()
    event = pressed("fold-1")
    alarm = await repo.create_alarm(StoredAlarm.from_press(event, SCHOOL, NOW))
    lifecycle = AlarmLifecycle(
        alarm_id=alarm.alarm_id,
        state="raised",
        school=SCHOOL,
        kind="intrusion",
        silent=True,
        test=False,
        location=event.location,
        device_id="D1",
        pressed_at=NOW,
        change="folded",
    )
    alias = stable_id("alarm", "fold-2")
    changes = {
        "press_count": 2,
        "locations": [event.location, Location(building="B", floor=1, room="1")],
    }
    folded = await repo.compare_and_set(alarm, changes, event=lifecycle, add_alias=alias)
    assert folded is not None and folded.version == 1 and folded.press_count == 2
    assert folded.locations[1].building == "B" and folded.outbox[0].change == "folded"
    assert await repo.compare_and_set(alarm, {"press_count": 9}, event=lifecycle) is None, (
        "stale version"
    )
    by_alias = await repo.get(alias)
    assert by_alias is not None and by_alias.alarm_id == alarm.alarm_id
    assert by_alias == folded, "what compare_and_set answers is what it stored"
    assert await repo.create_alarm(StoredAlarm.from_press(event, SCHOOL, NOW)) == folded, (
        "a redelivered press finds the alarm it created"
    )
    await repo.pull_outbox(alarm.alarm_id, lifecycle.event_id)
    assert (await repo.get(alarm.alarm_id)).outbox == []  # type: ignore[union-attr]
    everything = NOW + timedelta(days=1)
    assert await repo.with_outbox(older_than=everything, limit=10) == [], (
        "the last event takes the marker with it"
    )
    assert await repo.open_at_school("S1", test=False, since=NOW) is not None
    assert await repo.open_at_school("S1", test=True, since=NOW) is None


async def test_nearest_units_skip_busy_units_and_keep_the_newest_status(
    namespace: Namespace, mongo: Client
) -> None:
    from shared.events import UnitStatusChanged

    repo = MongoNotificationRepository(mongo[f"{namespace.db_prefix}notifications"])
    await repo.ensure_indexes()
    await repo.upsert_positions(
        [
            PositionReported(
                unit_id=u, lat=SCHOOL.lat + m * DEG_PER_M, lon=SCHOOL.lon, recorded_at=NOW
            )
            for u, m in (("busy", 100), ("free", 500), ("silent", 900))
        ]
    )

    def change(unit: str, status: str, version: int) -> UnitStatusChanged:
        return UnitStatusChanged(
            unit_id=unit, status=status, previous="available", actor=unit, version=version
        )  # type: ignore[arg-type]

    await repo.set_status(change("busy", "busy", 1))
    await repo.set_status(change("free", "busy", 1))
    await repo.set_status(change("free", "available", 2))
    await repo.set_status(change("free", "busy", 1))  # older, redelivered: ignored
    await repo.set_status(change("ghost", "busy", 1))  # status before any position: kept apart
    board = UnitBoard()
    board.merge(await repo.load_units())

    def ranking(guard_post_radius_m: float) -> list[tuple[str, bool]]:
        found = board.nearest(
            lat=SCHOOL.lat,
            lon=SCHOOL.lon,
            radius_m=3000,
            limit=5,
            fresh_since=NOW - timedelta(minutes=5),
            guard_post_radius_m=guard_post_radius_m,
        )
        return [(u.unit_id, u.guard_post) for u in found]

    assert ranking(200) == [("free", False), ("silent", False)]
    await repo.set_status(change("free", "on_post", 3))
    board.merge(await repo.load_units())
    assert ranking(5000)[0] == ("free", True)


async def test_calendar_roster_and_post_windows_round_trip(
    namespace: Namespace, mongo: Client
) -> None:
    from datetime import date

    from services.patrols.guardposts import Calendar, RosterEntry
    from services.patrols.models import PostWindowRecord

    repo = MongoPatrolRepository(mongo[f"{namespace.db_prefix}patrols"])
    await repo.ensure_indexes()
    assert await repo.calendar() == Calendar(), "the default until one is saved"
    calendar = Calendar(holidays=[date(2026, 10, 1)])
    await repo.save_calendar(calendar)
    assert await repo.calendar() == calendar
    entry = RosterEntry(
        unit_id="U1",
        post_id="S1-stop",
        windows=["morning"],
        valid_from=date(2026, 9, 1),
        valid_to=date(2027, 1, 15),
    )
    entry_id = await repo.add_roster_entry(entry)
    assert await repo.add_roster_entry(entry) == entry_id, "the same entry again replaces it"
    assert await repo.roster(unit_id="U1") == [(entry_id, entry)]
    record = PostWindowRecord(
        key="S1-stop:2026-11-30:morning",
        post_id="S1-stop",
        school_id="S1",
        unit_id="U1",
        day=date(2026, 11, 30),
        window="morning",
        window_start=NOW,
        window_end=NOW + timedelta(hours=1),
        state="empty",
        gap_published=True,
    )
    await repo.save_post_window(record)
    assert await repo.post_window(record.key) == record
    assert await repo.post_windows_on(date(2026, 11, 30)) == [record]


async def test_orders_compare_and_set_overdue_and_per_unit_replay(
    namespace: Namespace, mongo: Client
) -> None:
    from services.notifications.models import FeedEntry, Order
    from services.notifications.orders import order_delivery
    from shared.events import DeliveryChanged, Location

    repo = MongoNotificationRepository(mongo[f"{namespace.db_prefix}notifications"])
    await repo.ensure_indexes()
    alarm_id = stable_id("alarm", "orders")
    location = Location(building="A", floor=1, room="101")

    def order(unit: str, deadline: datetime) -> Order:
        return Order(
            order_id=stable_id("order", unit),
            alarm_id=alarm_id,
            unit_id=unit,
            rank=1,
            distance_m=120.5,
            state="sent",
            deadline=deadline,
            school=SCHOOL,
            kind="fire",
            silent=False,
            location=location,
            pressed_at=NOW,
            ordered_at=NOW,
        )

    first = order("U1", NOW - timedelta(seconds=1))
    later = order("U2", NOW + timedelta(minutes=1))

    def sent(o: Order) -> DeliveryChanged:
        return order_delivery(o, "sent")

    assert await repo.insert_order(first, delivery=sent(first))
    assert await repo.insert_order(later, delivery=sent(later))
    assert not await repo.insert_order(first, delivery=sent(first)), "one order per id, ever"
    assert [o.unit_id for o in await repo.overdue_orders(NOW)] == ["U1"]
    late = order_delivery(first, "expired", "late")
    expired = await repo.change_order(
        first,
        from_states={"sent", "delivered"},
        delivery=late,
        hand_over=True,
        state="expired",
        reason="late",
    )
    assert expired is not None and (expired.state, expired.reason) == ("expired", "late")
    assert expired == (await repo.get_order(first.order_id)), "as stored, to the millisecond"
    assert await repo.overdue_orders(NOW) == [expired], "its next unit is still owed"
    await repo.handed_over(first.order_id)
    delivered = order_delivery(first, "delivered")
    assert (
        await repo.change_order(first, from_states={"sent"}, delivery=delivered, state="delivered")
        is None
    ), "a refused change leaves no event"
    assert await repo.pending_deliveries(older_than=utcnow() - timedelta(minutes=1), limit=10) == []
    soon = utcnow() + timedelta(seconds=1)
    pending = dict(await repo.pending_deliveries(older_than=soon, limit=10))
    assert [e.state for e in pending[first.order_id]] == ["sent", "expired"]
    assert [e.state for e in pending[later.order_id]] == ["sent"]
    for event in pending[first.order_id]:
        await repo.pull_delivery(first.order_id, event.event_id)
    left = await repo.pending_deliveries(older_than=soon, limit=10)
    assert [oid for oid, _ in left] == [later.order_id]
    assert await repo.overdue_orders(NOW) == []
    assert [o.unit_id for o in await repo.open_orders(alarm_id)] == ["U2"]
    unlogged = await repo.unlogged(older_than=utcnow() + timedelta(seconds=1), limit=10)
    assert {o.order_id for o in unlogged if isinstance(o, Order)} == {
        first.order_id,
        later.order_id,
    }, "not yet known to be in the orders log"
    assert await repo.unlogged(older_than=utcnow() - timedelta(minutes=1), limit=10) == []
    assert await repo.orders_after("U2", 0, limit=10) == [], "no position yet"
    await repo.mark_logged("Order", str(later.order_id), 42)
    assert [o.seq for o in await repo.orders_after("U2", 0, limit=10)] == [42]
    assert await repo.orders_after("U2", 42, limit=10) == []
    still = await repo.unlogged(older_than=utcnow() + timedelta(seconds=1), limit=10)
    assert [o.order_id for o in still if isinstance(o, Order)] == [first.order_id]
    states = await repo.order_states([first.order_id, later.order_id])
    assert states == {first.order_id: "expired", later.order_id: "sent"}

    entries = [
        FeedEntry(
            event_id=stable_id("feed", state),
            alarm_id=alarm_id,
            state=state,
            school=SCHOOL,
            kind="fire",
            silent=False,
            test=False,
            location=location,
            pressed_at=NOW,
            occurred_at=NOW + timedelta(seconds=second),
        )
        for second, state in enumerate(("raised", "acknowledged"))
    ]
    for entry in entries:
        assert await repo.insert_feed(entry)
    await repo.mark_logged("FeedEntry", str(entries[1].event_id), 7)
    assert [e.seq for e in await repo.feed_after(0, limit=10)] == [7], "the logged one only"
    latest = await repo.latest_feed_entry(alarm_id)
    assert latest is not None and latest.state == "acknowledged"
    held = await repo.feed_entry(str(entries[0].event_id))
    assert held is not None and held.state == "raised"


async def test_response_time_facts_replay_from_scratch_to_the_same_figures(
    namespace: Namespace, mongo: Client
) -> None:
    from services.reporting import figures
    from services.reporting.models import IntervalFigures
    from services.reporting.repository import FactFilter
    from tests.unit.test_response_times import DRILL, REAL

    async def replay(db_name: str, events: list[AlarmLifecycle]) -> list[IntervalFigures]:
        repo = MongoReportingRepository(mongo[db_name])
        await repo.ensure_indexes()
        for event in events:
            await repo.record_alarm(event)
        facts = await repo.alarm_facts(FactFilter(township="会师镇"))
        assert sum(f.test for f in facts) == 1
        return figures.response_times(facts)

    once = await replay(f"{namespace.db_prefix}reporting", REAL + DRILL)
    again = await replay(f"{namespace.db_prefix}reporting2", list(reversed(REAL + DRILL)) + REAL)
    assert once == again
    ack = once[0]
    assert (ack.interval, ack.alarms, ack.p50_s, ack.p90_s, ack.max_s) == (
        "press_to_acknowledged",
        10,
        5.0,
        9.0,
        10.0,
    )
    await mongo.drop_database(f"{namespace.db_prefix}reporting2")


async def test_every_report_replays_from_scratch_to_the_same_figures_on_the_server(
    namespace: Namespace, mongo: Client
) -> None:
    """The known period of tests/reports_fixture.py through MongoDB: the same figures as the
    in-memory model, and a replay (reversed, every event twice) into an empty database too."""
    from services.reporting import service
    from services.reporting.models import Overview
    from services.reporting.repository import InMemoryReportingRepository
    from services.reporting.service import Deps, Scope
    from tests.reports_fixture import COUNTY, DAY, EVERYTHING, UNTIL, feed

    september = Scope(since=DAY, until=UNTIL)

    async def replay(db_name: str, events: list[Any]) -> Overview:
        repo = MongoReportingRepository(mongo[db_name])
        await repo.ensure_indexes()
        deps = Deps(publisher=RecordingPublisher(), topics=Topics(), repo=repo, county=COUNTY)
        await feed(deps, events)
        return await service.overview(deps=deps, scope=september)

    once = await replay(f"{namespace.db_prefix}reports", EVERYTHING)
    again = await replay(f"{namespace.db_prefix}reports2", list(reversed(EVERYTHING)) + EVERYTHING)
    in_memory = Deps(
        publisher=RecordingPublisher(),
        topics=Topics(),
        repo=InMemoryReportingRepository(),
        county=COUNTY,
    )
    await feed(in_memory, EVERYTHING)
    assert once == again == await service.overview(deps=in_memory, scope=september)
    assert (
        once.summary.sentence == "3 campaigns, 7 violations, 3 schools, 3 sessions, 2,000 letters"
    )
    t1 = Scope(since=DAY, until=UNTIL, township="T1", kind="speeding")
    deps = Deps(
        publisher=RecordingPublisher(),
        topics=Topics(),
        repo=MongoReportingRepository(mongo[f"{namespace.db_prefix}reports"]),
        county=COUNTY,
    )
    assert (await service.violations(deps=deps, scope=t1)).total == 3
    inspections = await service.get_activities(deps=deps, scope=Scope(kind="inspection"))
    assert [a.school_id for a in inspections] == ["S1", "S2", "S1"]
    for name in ("reports", "reports2"):
        await mongo.drop_database(f"{namespace.db_prefix}{name}")


async def test_outbound_jobs_are_leased_to_one_sender_and_settled_as_stored(
    namespace: Namespace, mongo: Client
) -> None:
    from services.notifications.outbound import OutboundJob

    repo = MongoNotificationRepository(mongo[f"{namespace.db_prefix}notifications"])
    await repo.ensure_indexes()
    alarm_id = stable_id("alarm", "outbound")
    jobs = [
        OutboundJob(
            notification_id=stable_id("job", str(i)),
            alarm_id=alarm_id,
            channel="webhook",
            recipient="webhook:county",
            url="http://127.0.0.1:9/hook",
            body={"i": i},
            next_attempt_at=NOW - timedelta(seconds=i),
            created_at=NOW,
        )
        for i in range(3)
    ]
    for job in jobs:
        assert await repo.insert_outbound(job)
    lease = timedelta(seconds=30)
    claimed = await repo.claim_outbound(NOW, lease=lease, limit=2)
    assert [j.body["i"] for j in claimed] == [2, 1], "the longest due first"
    assert all(j.leased_until == NOW + lease for j in claimed)
    (last,) = await repo.claim_outbound(NOW, lease=lease, limit=5)  # the others are leased
    assert last.body["i"] == 0
    assert await repo.claim_outbound(NOW + lease - timedelta(seconds=1), lease=lease, limit=5) == []
    again = await repo.claim_outbound(NOW + lease + timedelta(seconds=1), lease=lease, limit=5)
    assert len(again) == 3, "a lease that ran out frees the job"
    settled = await repo.settle_outbound(again[0], state="delivered", attempts=1, leased_until=None)
    assert settled.state == "delivered"
    stored = {j.notification_id: j for j in await repo.outbound_for_alarm(alarm_id)}
    assert stored[settled.notification_id] == settled
