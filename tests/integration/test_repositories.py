"""Repositories against the real MongoDB-protocol server over TCP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from services.notifications.board import UnitBoard
from services.notifications.repository import MongoNotificationRepository
from services.patrols.history import history_key
from services.patrols.repository import MongoPatrolRepository
from services.reporting.repository import MongoReportingRepository
from shared.events import (
    AlarmLifecycle,
    PositionReported,
)
from tests.conftest import Namespace
from tests.values import DEG_PER_M, NOW, SCHOOL, nearest

Client = AsyncMongoClient[dict[str, Any]]


async def test_the_stored_board_reloads_and_ranks_closest_first_fresh_only(
    namespace: Namespace, mongo: Client
) -> None:
    db = mongo[f"{namespace.db_prefix}notifications"]
    await db["unit_positions"].insert_one(  # written before the board: a GeoJSON point
        {"_id": "old", "loc": {"type": "Point", "coordinates": [SCHOOL.lon, SCHOOL.lat + 0.05]}}
        | {"recorded_at": NOW}
    )
    repo = MongoNotificationRepository(db)
    await repo.ensure_indexes()
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
    found = nearest(board, limit=3, guard_post_radius_m=200)
    assert [u.unit_id for u in found] == ["near", "mid", "far"]
    assert [round(u.distance_m, -1) for u in found] == [300, 1200, 2500]
    assert len(board) == 7, "the old GeoJSON document loads too"
    assert await repo.load_units(changed_since=datetime.now(UTC) + timedelta(minutes=1)) == []


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
        tally = await repo.alarm_tally(FactFilter(township="会师镇"))
        assert tally.tests == 1
        return figures.response_times(tally)

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
    from services.reporting.service import Scope
    from tests.reports_fixture import COUNTY, DAY, EVERYTHING, UNTIL, fed

    september = Scope(since=DAY, until=UNTIL)
    townships = {school.school_id: school.township for school in COUNTY.schools}

    def repository(db_name: str) -> MongoReportingRepository:
        return MongoReportingRepository(mongo[db_name], townships=townships)

    async def replay(db_name: str, events: list[Any]) -> Overview:
        repo = repository(db_name)
        await repo.ensure_indexes()
        return await service.overview(deps=await fed(events, repo), scope=september)

    once = await replay(f"{namespace.db_prefix}reports", EVERYTHING)
    again = await replay(f"{namespace.db_prefix}reports2", list(reversed(EVERYTHING)) + EVERYTHING)
    in_memory = await service.overview(deps=await fed(EVERYTHING), scope=september)
    assert once == again == in_memory
    # the ledgers and spans lost (an upgrade from before them), rebuilt from the records
    db = mongo[f"{namespace.db_prefix}reports2"]
    for name in await db.list_collection_names():
        if "_ledger_" in name or name == "trouble_spans":
            await db.drop_collection(name)
    rebuilt = repository(db.name)
    written = await rebuilt.rebuild_ledgers()
    assert set(written) == {
        "violation_ledger",
        "violation_campaign_ledger",
        "activity_ledger",
        "alarm_ledger",
        "trouble_spans",
    }
    assert await service.overview(deps=await fed([], rebuilt), scope=september) == once
    for township in ("T1", "T2"):
        scope = Scope(since=DAY, until=UNTIL, township=township)
        expected = await service.overview(deps=await fed(EVERYTHING), scope=scope)
        assert await service.overview(deps=await fed([], rebuilt), scope=scope) == expected
    assert (
        once.summary.sentence == "3 campaigns, 7 violations, 3 schools, 3 sessions, 2,000 letters"
    )
    t1 = Scope(since=DAY, until=UNTIL, township="T1", kind="speeding")
    deps = await fed([], MongoReportingRepository(mongo[f"{namespace.db_prefix}reports"]))
    assert (await service.violations(deps=deps, scope=t1)).total == 3
    inspections = await service.get_activities(deps=deps, scope=Scope(kind="inspection"))
    assert [a.school_id for a in inspections] == ["S1", "S2", "S1"]
    for name in ("reports", "reports2"):
        await mongo.drop_database(f"{namespace.db_prefix}{name}")


async def test_trouble_spans_lost_in_an_upgrade_are_rebuilt_from_the_trouble_events(
    namespace: Namespace, mongo: Client
) -> None:
    """Spans kept as the events arrive equal spans rebuilt from the stored events."""
    from services.reporting.repository import TROUBLES, RecordFilter
    from shared.events import DeviceTrouble, stable_id

    def told(n: int, status: str, at: datetime) -> DeviceTrouble:
        return DeviceTrouble.model_validate(
            {
                "event_id": stable_id("told", str(n), status),
                "occurred_at": at,
                "trouble_id": stable_id("trouble", str(n)),
                "device_id": f"D{n % 3}",
                "school": SCHOOL.model_copy(update={"school_id": f"S{n % 2}"}),
                "kind": ("offline", "battery_low", "tamper")[n % 3],
                "status": status,
                "since": at - timedelta(minutes=n),
            }
        )

    events = [told(n, "raised", NOW + timedelta(hours=n)) for n in range(6)]
    events += [told(n, "restored", NOW + timedelta(hours=n + 1)) for n in range(0, 6, 2)]
    db = mongo[f"{namespace.db_prefix}spans"]
    repo = MongoReportingRepository(db)
    await repo.ensure_indexes()
    for event in events:
        await repo.store(TROUBLES, event)
    kept = await repo.trouble_spans(RecordFilter())
    assert [(s.restored_at is None) for s in kept] == [False, True] * 3
    await db.drop_collection("trouble_spans")
    assert (await repo.rebuild_ledgers())["trouble_spans"] == 6
    assert await repo.trouble_spans(RecordFilter()) == kept
    await mongo.drop_database(db.name)


async def test_two_instances_storing_one_school_day_at_once_leave_true_roll_ups(
    namespace: Namespace, mongo: Client
) -> None:
    """Check-ins of one school and day stored by two instances at once: each recomputes the
    same day, month and year; the compare-and-set on `seq` leaves them counting every one."""
    from services.reporting.repository import CHECKINS, RecordFilter
    from shared.events import CheckinRecorded, stable_id

    db = mongo[f"{namespace.db_prefix}reporting"]
    first, second = MongoReportingRepository(db), MongoReportingRepository(db)
    await first.ensure_indexes()
    noon = datetime(2026, 5, 6, 4, tzinfo=UTC)  # noon in the county

    def checkin(n: int) -> CheckinRecorded:
        return CheckinRecorded(
            occurred_at=noon,
            checkin_id=stable_id("race", str(n)),
            unit_id=f"U{n}",
            point_id=f"S1-{('must_reach', 'stop')[n % 2]}",
            school_id="S1",
            point_kind=("must_reach", "stop")[n % 2],  # type: ignore[arg-type]
            lat=35.7,
            lon=105.0,
            at=noon + timedelta(seconds=n),
            distance_m=5,
            flagged=False,
        )

    # the first instance's first recomputation reads the records, then stalls until the
    # second instance has stored and recomputed: its write is stale and must not land
    load, stalled = first._coverage._load, asyncio.Event()

    async def slow_load(*args: Any) -> Any:
        found = await load(*args)
        if not stalled.is_set():
            stalled.set()
            await asyncio.sleep(0.5)
        return found

    first._coverage._load = slow_load  # type: ignore[method-assign]
    stalling = asyncio.create_task(first.store(CHECKINS, checkin(0)))
    await stalled.wait()
    await second.store(CHECKINS, checkin(1))
    await stalling
    for grain in ("days", "months", "years"):  # nothing stored since: a stale write would stay
        (doc,) = await db[f"coverage_{grain}"].find().to_list()
        assert doc["all_checkins"] == 2, grain
    stores = [(first, second)[n % 2].store(CHECKINS, checkin(n)) for n in range(2, 24)]
    await asyncio.gather(*stores)
    for repo in (first, second):
        # a year, a month and a day: each read from its own roll-up level
        for since, until in (
            (datetime(2025, 12, 31, 16, tzinfo=UTC), datetime(2026, 12, 31, 16, tzinfo=UTC)),
            (datetime(2026, 4, 30, 16, tzinfo=UTC), datetime(2026, 5, 31, 16, tzinfo=UTC)),
            (datetime(2026, 5, 5, 16, tzinfo=UTC), datetime(2026, 5, 6, 16, tzinfo=UTC)),
        ):
            (tally,) = (await repo.coverage(RecordFilter(since=since, until=until))).values()
            assert (tally["checkins"], tally["days"]) == (24, 1)
            assert tally["points"] == ["S1-must_reach", "S1-stop"]
    for grain, seq in (("days", 24), ("months", 24), ("years", 24)):
        (doc,) = await db[f"coverage_{grain}"].find().to_list()
        assert doc["seq"] == seq and doc["all_checkins"] == 24, grain
