"""The contract of services.reporting.repository: the fake and MongoDB alike (conftest)."""

from __future__ import annotations

from datetime import timedelta

from services.reporting.repository import ReportingRepository
from shared.events import (
    stable_id,
)
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


async def test_troubles_are_kept_once_and_found_by_their_school_inside_the_event(
    repo: ReportingRepository,
) -> None:
    from services.reporting.repository import TROUBLES, RecordFilter
    from shared.events import DeviceTrouble

    def trouble(device: str, school: object, status: str) -> DeviceTrouble:
        return DeviceTrouble.model_validate(
            {
                "event_id": stable_id(device, status),
                "occurred_at": NOW,
                "trouble_id": stable_id(device),
                "device_id": device,
                "school": school,
                "kind": "offline",
                "status": status,
                "since": NOW,
            }
        )

    other = SCHOOL.model_copy(update={"school_id": "S2"})
    events = [trouble("D1", SCHOOL, "raised"), trouble("D1", SCHOOL, "restored")]
    for event in [*events, *events, trouble("D2", other, "raised")]:
        await repo.store(TROUBLES, event)
    mine = await repo.records(TROUBLES, RecordFilter(school_ids=frozenset({"S1"})))
    assert sorted(t.status for t in mine) == ["raised", "restored"]
    before = await repo.records(TROUBLES, RecordFilter(until=NOW))
    assert before == []
    assert len(await repo.records(TROUBLES, RecordFilter(kind="offline"))) == 3
