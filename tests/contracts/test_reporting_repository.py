"""The contract of services.reporting.repository: the fake and MongoDB alike (conftest)."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.reporting.repository import (
    RecordFilter,
    RecordKind,
    ReportingRepository,
)
from services.reporting.rollups import Stale
from services.reporting.tallies import violation_key
from shared.events import (
    INSPECTION_ITEMS,
    ActivityRecorded,
    CampaignRef,
    CheckinRecorded,
    GuardPostWindow,
    Place,
    PointVisited,
    SchoolRef,
    SchoolWindowPatrolled,
    UnitSeen,
    ViolationRecorded,
    stable_id,
)
from shared.events.activities import Drill, Inspection, Letters, Session
from tests.values import NOW, SCHOOL, raised

SERVICE = "reporting"  # the repository under test (conftest.repo)


async def test_alarms_by_school_counts_tests_apart_and_replay_is_stable(
    repo: ReportingRepository,
) -> None:

    other = SCHOOL.model_copy(update={"school_id": "S2", "township": "河畔镇"})
    events = [
        raised("a", school=SCHOOL, test=False),
        raised("b", school=SCHOOL, test=True),
        raised("c", school=other, test=False),
    ]
    for event in events + events:
        await repo.record_alarm(event)
    rows = await repo.alarms_by_school(since=None, until=None, township=None)
    assert [(r.school_id, r.alarms, r.tests) for r in rows] == [("S1", 1, 1), ("S2", 1, 0)]
    rows = await repo.alarms_by_school(since=None, until=None, township="河畔镇")
    assert [r.school_id for r in rows] == ["S2"]
    rows = await repo.alarms_by_school(since=NOW + timedelta(seconds=1), until=None, township=None)
    assert rows == []


async def test_records_once_each_filtered_by_period_school_and_kind(
    repo: ReportingRepository,
) -> None:
    from services.reporting.repository import VIOLATIONS, FactFilter, RecordFilter
    from shared.events import Place, ViolationRecorded

    def violation(n: int, kind: str, school_id: str) -> ViolationRecorded:
        return ViolationRecorded(
            occurred_at=NOW,
            violation_id=stable_id("violation", str(n)),
            unit_id="U1",
            officer="o1",
            kind=kind,  # type: ignore[arg-type]
            place=Place(lat=35.7, lon=105.0),
            school_id=school_id,
            observed_at=NOW - timedelta(minutes=n),
        )

    recorded = [violation(1, "speeding", "S1"), violation(2, "overloading", "S1")]
    recorded.append(violation(3, "speeding", "S2"))
    for event in recorded + recorded:
        await repo.store(VIOLATIONS, event)
    everything = await repo.records(VIOLATIONS, RecordFilter())
    assert sorted(v.violation_id for v in everything) == sorted(v.violation_id for v in recorded)
    speeding_at_s1 = await repo.records(
        VIOLATIONS, RecordFilter(school_ids=frozenset({"S1"}), kind="speeding")
    )
    assert speeding_at_s1 == [recorded[0]]
    last_two_minutes = RecordFilter(since=NOW - timedelta(minutes=2), until=NOW)
    assert len(await repo.records(VIOLATIONS, last_two_minutes)) == 2

    await repo.record_alarm(raised("fact"))
    (fact,) = await repo.alarm_facts(FactFilter(township=SCHOOL.township))
    assert (fact.school_id, fact.kind) == ("S1", "fire")
    assert await repo.alarm_facts(FactFilter(kind="intrusion")) == []


async def test_troubles_are_kept_once_and_read_as_spans_overlapping_a_period(
    repo: ReportingRepository,
) -> None:
    from services.reporting.devices import TroubleSpan
    from services.reporting.repository import TROUBLES, RecordFilter
    from shared.events import DeviceTrouble

    def trouble(device: str, school: object, status: str, at: datetime) -> DeviceTrouble:
        return DeviceTrouble.model_validate(
            {
                "event_id": stable_id(device, status),
                "occurred_at": at,
                "trouble_id": stable_id(device),
                "device_id": device,
                "school": school,
                "kind": "offline",
                "status": status,
                "since": NOW - timedelta(minutes=5),
            }
        )

    other = SCHOOL.model_copy(update={"school_id": "S2"})
    hour = timedelta(hours=1)
    events = [
        trouble("D1", SCHOOL, "restored", NOW + hour),  # before its raise: kept, in any order
        trouble("D1", SCHOOL, "raised", NOW),
        trouble("D1", SCHOOL, "repeated", NOW + hour / 2),
        trouble("D2", other, "raised", NOW + 2 * hour),  # still open
    ]
    for event in [*events, *events]:
        await repo.store(TROUBLES, event)
    mine = await repo.records(TROUBLES, RecordFilter(school_ids=frozenset({"S1"})))
    assert sorted(t.status for t in mine) == ["raised", "repeated", "restored"]
    assert await repo.records(TROUBLES, RecordFilter(until=NOW)) == []

    def span(device: str, school: str, at: datetime, end: datetime | None) -> TroubleSpan:
        since = NOW - timedelta(minutes=5)
        return TroubleSpan(str(stable_id(device)), device, school, "offline", since, at, end)

    d1, d2 = span("D1", "S1", NOW, NOW + hour), span("D2", "S2", NOW + 2 * hour, None)
    assert await repo.trouble_spans(RecordFilter()) == [d1, d2]
    assert await repo.trouble_spans(RecordFilter(until=NOW)) == [], "raised at its end"
    assert await repo.trouble_spans(RecordFilter(since=NOW + hour)) == [d1, d2]
    later = RecordFilter(since=NOW + hour + timedelta(seconds=1))
    assert await repo.trouble_spans(later) == [d2], "restored before the period"
    s1 = RecordFilter(since=NOW, until=NOW + 3 * hour, school_ids=frozenset({"S1"}))
    assert await repo.trouble_spans(s1) == [d1]
    both = RecordFilter(since=NOW, school_ids=frozenset({"S1", "S2"}))
    assert await repo.trouble_spans(both) == [d1, d2]


# --- roll-ups: any period, cut into months, days and raw hours, gives what the records give -----

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 20, tzinfo=ZONE)  # ten weeks across three month ends


def _rolled_up_records(rng: random.Random) -> dict[str, list[Any]]:
    """Check-ins, visits, guard windows and violations at three schools, some a second or
    two either side of the county's midnight (where a UTC day would split them wrongly)."""
    found: dict[str, list[Any]] = {
        "checkins": [],
        "visits": [],
        "windows": [],
        "violations": [],
        "activities": [],
    }
    for n in range(120):
        school = rng.choice(["S1", "S2", "S3"])
        kind = rng.choice(["must_reach", "must_patrol", "stop"])
        moment = START + timedelta(days=rng.randrange(70), seconds=rng.randrange(86400))
        if n % 10 == 0:
            moment = moment.replace(hour=0, minute=0, second=0) - timedelta(seconds=n % 3)
        ids = (school, str(n))
        point = f"{school}-{kind}"
        found["checkins"].append(
            CheckinRecorded(
                occurred_at=moment,
                checkin_id=stable_id("checkin", *ids),
                unit_id="U1",
                point_id=point,
                school_id=school,
                point_kind=kind,  # type: ignore[arg-type]
                lat=35.7,
                lon=105.0,
                at=moment,
                distance_m=10,
                flagged=n % 7 == 0,
            )
        )
        if n % 2:
            dwell = float(rng.randrange(600))
            found["visits"].append(
                PointVisited(
                    occurred_at=moment,
                    visit_id=stable_id("visit", *ids),
                    unit_id="U1",
                    point_id=point,
                    school_id=school,
                    point_kind=kind,  # type: ignore[arg-type]
                    arrived_at=moment,
                    left_at=moment + timedelta(seconds=dwell),
                    dwell_s=dwell,
                    fixes=3,
                    closed_by="left",
                )
            )
        day = START.date() + timedelta(days=n // 2)
        window = ("morning", "noon", "afternoon")[n % 3]
        start = datetime.combine(day, time(7 + n % 3 * 5), tzinfo=ZONE)
        found["windows"].append(
            GuardPostWindow(
                occurred_at=start,
                post_id=f"{school}-stop",
                school_id=school,
                unit_id="G1",
                day=day,
                window=window,  # type: ignore[arg-type]
                window_start=start,
                window_end=start + timedelta(hours=1),
                state=rng.choice(["staffed", "late", "empty"]),  # type: ignore[arg-type]
                final=True,
            )
        )
        found["violations"].append(
            ViolationRecorded(
                occurred_at=moment,
                violation_id=stable_id("violation", *ids),
                unit_id="U1",
                officer="o1",
                kind=rng.choice(["speeding", "overloading"]),  # type: ignore[arg-type]
                place=Place(lat=35.7, lon=105.0),
                school_id=school if n % 5 else None,
                observed_at=moment,
                campaign=CampaignRef(campaign_id="C1", name="春季") if n % 3 else None,
            )
        )
        if n % 3 == 0:
            found["activities"].append(_activity(rng, n, school, moment))
    return found


def _activity(rng: random.Random, n: int, school: str, moment: datetime) -> ActivityRecorded:
    """An inspection (some at the same moment as another: a failure wins the tie), a session,
    letters or a drill."""
    details: Any
    match n % 4:
        case 0:
            items = {item: rng.random() < 0.8 for item in INSPECTION_ITEMS}
            details = Inspection(items=items)  # type: ignore[arg-type]
            moment = moment.replace(minute=0, second=0) if n % 8 == 0 else moment
        case 1:
            details = Session(topic="traffic_safety", audience=rng.randrange(1, 300))
        case 2:
            details = Letters(topic="legal_education", letters=rng.randrange(1, 900))
        case _:
            details = Drill(scenario="fire", participants=rng.randrange(1, 500))
    return ActivityRecorded(
        occurred_at=moment,
        activity_id=stable_id("activity", school, str(n)),
        school_id=school,
        held_at=moment,
        recorded_by="li.supervisor",
        activity=details,
    )


def _school_windows(posts: list[Any]) -> list[SchoolWindowPatrolled]:
    """Each guard-post window as its school's window: seen unless it was empty, by a foot
    patrol when staffed and special police when late."""
    return [
        SchoolWindowPatrolled(
            event_id=stable_id("seen", str(post.event_id)),
            occurred_at=post.window_end,
            school=SchoolRef(
                school_id=post.school_id,
                name=post.school_id,
                township="T1" if post.school_id in {"S1", "S2"} else "T2",
                lat=35.7,
                lon=105.0,
            ),
            day=post.day,
            window=post.window,
            window_start=post.window_start,
            window_end=post.window_end,
            radius_m=300,
            seen=post.state != "empty",
            minutes_present={"staffed": 40, "late": 10, "empty": 0}[post.state],
            window_minutes=60,
            units=[
                UnitSeen(unit_id=post.unit_id, kind="k", mode=mode, minutes=1)
                for mode in {"staffed": ["foot"], "late": ["special"], "empty": []}[post.state]
            ],
        )
        for post in posts
    ]


def _periods(rng: random.Random) -> list[RecordFilter]:
    """Open ends, whole months, whole days, hours inside one day, and arbitrary moments."""
    month = datetime(2026, 2, 1, tzinfo=ZONE)
    march = datetime(2026, 3, 1, tzinfo=ZONE)
    periods = [
        RecordFilter(),
        RecordFilter(since=month),
        RecordFilter(until=march),
        RecordFilter(since=month, until=march),
        RecordFilter(since=month + timedelta(days=3), until=march + timedelta(days=9)),
        RecordFilter(since=month + timedelta(hours=7), until=month + timedelta(hours=19)),
        RecordFilter(since=month - timedelta(hours=1), until=march + timedelta(minutes=1)),
        RecordFilter(since=march, kind="stop", school_ids=frozenset({"S1", "S3"})),
        RecordFilter(school_ids=frozenset({"S2"}), kind="morning"),
        # a township: read from its ledgers (S1 and S2 are T1's: conftest)
        RecordFilter(school_ids=frozenset({"S1", "S2"}), township="T1"),
        RecordFilter(
            since=month + timedelta(hours=5),
            until=march + timedelta(days=20, hours=1),
            school_ids=frozenset({"S1", "S2"}),
            township="T1",
        ),
    ]
    for _ in range(12):
        since = START + timedelta(seconds=rng.randrange(75 * 86400))
        until = since + timedelta(seconds=rng.randrange(1, 50 * 86400))
        periods.append(RecordFilter(since=since, until=until))
    return periods


def _nonzero(found: dict[str, Any]) -> dict[str, Any]:
    """Schools and facets with something counted (the roll-ups may hold zeros)."""
    kept: dict[str, Any] = {}
    for school_id, fields in found.items():
        if "checkins" in fields:  # coverage: one facet
            if any(fields.values()):
                kept[school_id] = fields
            continue
        facets = {f: v for f, v in fields.items() if any(v.values())}
        if facets:
            kept[school_id] = facets
    return kept


async def _store_in_batches(
    repo: ReportingRepository, kind: RecordKind[Any], records: list[Any], rng: random.Random
) -> None:
    """As the subscribers store them: batches of a few records, the roll-up and ledger days
    recomputed at each batch's end; a batch of one recomputed at once."""
    start = 0
    while start < len(records):
        size = rng.choice([1, 7, 40])
        batch, start = records[start : start + size], start + size
        if size == 1:
            await repo.store(kind, batch[0])
            continue
        stale: set[Stale] = set()
        for record in batch:
            await repo.store(kind, record, stale=stale)
        await repo.refresh(stale)


async def test_rolled_up_reports_equal_the_records_for_any_period(
    repo: ReportingRepository,
) -> None:
    from services.reporting import tallies
    from services.reporting.repository import (
        ACTIVITIES,
        CHECKINS,
        GUARD_WINDOWS,
        VIOLATIONS,
        VISIBILITY,
        VISITS,
    )

    rng = random.Random(17)
    found = _rolled_up_records(rng)
    stored: list[tuple[RecordKind[Any], list[Any]]] = [
        (CHECKINS, found["checkins"]),
        (VISITS, found["visits"]),
    ]
    stored += [(GUARD_WINDOWS, found["windows"]), (VIOLATIONS, found["violations"])]
    stored += [(ACTIVITIES, found["activities"])]
    seen = _school_windows(found["windows"])
    stored += [(VISIBILITY, seen)]
    for kind, records in stored:
        await _store_in_batches(repo, kind, records + records[:5], rng)  # five delivered twice
    for query in _periods(rng):
        point_kind = query.kind if query.kind in tallies.POINT_KINDS else None
        window = query.kind if query.kind in tallies.WINDOWS else None
        as_coverage = dataclasses.replace(query, kind=point_kind)
        as_guard = dataclasses.replace(query, kind=window)
        facet = point_kind or tallies.ALL
        checkins = [c for c in found["checkins"] if as_coverage.admits(CHECKINS, c)]
        visits = [v for v in found["visits"] if as_coverage.admits(VISITS, v)]
        expected = {
            s: fs[facet]
            for s, fs in tallies.coverage(checkins, visits, ZONE).items()
            if facet in fs
        }
        assert _nonzero(await repo.coverage(as_coverage)) == _nonzero(expected), query
        windows = [w for w in found["windows"] if as_guard.admits(GUARD_WINDOWS, w)]
        expected_guard = tallies.guard(windows)
        if window:
            expected_guard = {
                s: {window: fs[window]} for s, fs in expected_guard.items() if window in fs
            }
        assert _nonzero(await repo.guard(as_guard)) == _nonzero(expected_guard), query
        expected_seen = tallies.seen([w for w in seen if as_guard.admits(VISIBILITY, w)])
        if window:
            expected_seen = {
                s: {window: fs[window]} for s, fs in expected_seen.items() if window in fs
            }
        assert _nonzero(await repo.visibility(as_guard)) == _nonzero(expected_seen), query
        plain = dataclasses.replace(query, kind=None)
        violations = [v for v in found["violations"] if plain.admits(VIOLATIONS, v)]
        expected_counts = Counter(violation_key(v) for v in violations)
        assert await repo.violation_counts(plain) == expected_counts, query
        if query.kind is None:  # what a report of one kind of violation counts
            speeding = dataclasses.replace(query, kind="speeding")
            only = Counter(violation_key(v) for v in violations if v.kind == "speeding")
            assert await repo.violation_counts(speeding) == only, query
        done = [a for a in found["activities"] if plain.admits(ACTIVITIES, a)]
        assert await repo.activity_ledger(plain) == tallies.activity_ledger(done), query


async def test_alarm_and_activity_tallies_are_what_their_records_give(
    repo: ReportingRepository,
) -> None:
    """The aggregations MongoDB runs against the pure tallies of the same records."""
    from services.reporting import service, tallies
    from services.reporting.repository import ACTIVITIES, FactFilter
    from tests.reports_fixture import ACTIVITIES as DONE
    from tests.reports_fixture import ALARMS, DAY, UNTIL, feed

    deps = service.Deps(repo=repo, publisher=None, topics=None)  # type: ignore[arg-type]
    await feed(deps, ALARMS + DONE)
    for facts in (FactFilter(), FactFilter(since=DAY, until=UNTIL), FactFilter(kind="fire")):
        expected = tallies.alarms(await repo.alarm_facts(facts))
        assert await repo.alarm_tally(facts) == expected, facts
        assert expected.real and expected.tests and expected.seconds["acknowledged"]
    for facts in (
        FactFilter(township="T1"),
        FactFilter(township="T1", kind="fire", since=DAY + timedelta(hours=2)),
        FactFilter(township="T1", school_id="S2"),
    ):
        expected = tallies.alarms(await repo.alarm_facts(facts))
        assert await repo.alarm_tally(facts) == expected, facts
        assert expected.real, facts
    for query in (
        RecordFilter(),
        RecordFilter(school_ids=frozenset({"S1"})),
        RecordFilter(until=DAY),
        RecordFilter(school_ids=frozenset({"S1", "S2"}), township="T1"),
        RecordFilter(school_ids=frozenset({"S3"}), since=DAY),
    ):
        records = await repo.records(ACTIVITIES, query)
        assert await repo.activity_ledger(query) == tallies.activity_ledger(records), query
    everything = await repo.records(ACTIVITIES, RecordFilter())
    done = tallies.activity_ledger(everything)
    assert tallies.inspection_tally(done).latest_ok == {"S1": False, "S2": False}
    assert tallies.outreach_tally(done).schools_reached == 3


async def test_day_by_day_counts_are_what_the_records_give(repo: ReportingRepository) -> None:
    from services.reporting import tallies
    from services.reporting.repository import GUARD_WINDOWS, VIOLATIONS, VISIBILITY, DayCounts

    rng = random.Random(23)
    found = _rolled_up_records(rng)
    seen = _school_windows(found["windows"])
    await _store_in_batches(repo, GUARD_WINDOWS, found["windows"], rng)
    await _store_in_batches(repo, VISIBILITY, seen, rng)
    await _store_in_batches(repo, VIOLATIONS, found["violations"], rng)
    february, april = datetime(2026, 2, 1, tzinfo=ZONE), datetime(2026, 4, 1, tzinfo=ZONE)
    queries = [
        RecordFilter(since=february, until=april),
        RecordFilter(
            since=february, until=april, school_ids=frozenset({"S1", "S2"}), township="T1"
        ),
        RecordFilter(since=february + timedelta(days=9), until=april, school_ids=frozenset({"S3"})),
    ]
    for query in queries:
        expected: dict[Any, Counter[str]] = {}
        for window in found["windows"]:
            if query.admits(GUARD_WINDOWS, window):
                day = expected.setdefault(tallies.local_day(window.window_start, ZONE), Counter())
                day.update(windows=1, staffed=int(window.state == "staffed"))
        for school_window in seen:
            if query.admits(VISIBILITY, school_window):
                at = tallies.local_day(school_window.window_start, ZONE)
                expected.setdefault(at, Counter()).update(
                    school_windows=1, seen=int(school_window.seen)
                )
        for violation in found["violations"]:
            if query.admits(VIOLATIONS, violation):
                day = expected.setdefault(tallies.local_day(violation.observed_at, ZONE), Counter())
                day.update(violations=1)
        days = {d: n for d, n in (await repo.daily(query)).items() if n != DayCounts()}
        assert days == {
            d: DayCounts(
                n["windows"], n["staffed"], n["violations"], n["school_windows"], n["seen"]
            )
            for d, n in expected.items()
        }, query
        assert days, query
