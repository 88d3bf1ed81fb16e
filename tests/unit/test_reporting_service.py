from datetime import UTC, datetime, timedelta

import pytest

from services.reporting import service
from services.reporting.service import Deps
from shared.events import AlarmLifecycle, SchoolRef, stable_id
from shared.topics import Topics
from tests import values
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.reporting import InMemoryReportingRepository

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def raised(alarm: str, school: str, *, test: bool = False, at: datetime = T0) -> AlarmLifecycle:
    where = SchoolRef(school_id=school, name=school, township="会师镇", lat=35.7, lon=105.0)
    return values.raised(alarm, school=where, test=test, occurred_at=at, pressed_at=at)


async def test_tests_and_drills_are_counted_apart_and_replays_change_nothing() -> None:
    deps = Deps(publisher=RecordingPublisher(), topics=Topics(), repo=InMemoryReportingRepository())
    events = [raised("a", "S1"), raised("b", "S1", test=True), raised("c", "S2")]
    for event in events + events:
        await service.record_alarm(deps=deps, event=event)
    rows = await service.alarms_by_school(deps=deps, since=None, until=None, township=None)
    assert [(r.school_id, r.alarms, r.tests) for r in rows] == [("S1", 1, 1), ("S2", 1, 0)]


async def test_period_filter_is_inclusive_exclusive() -> None:
    deps = Deps(publisher=RecordingPublisher(), topics=Topics(), repo=InMemoryReportingRepository())
    await service.record_alarm(deps=deps, event=raised("a", "S1", at=T0))
    await service.record_alarm(deps=deps, event=raised("b", "S1", at=T0 + timedelta(days=1)))
    rows = await service.alarms_by_school(
        deps=deps, since=T0, until=T0 + timedelta(days=1), township=None
    )
    assert [(r.school_id, r.alarms) for r in rows] == [("S1", 1)]
    with pytest.raises(ValueError):
        await service.alarms_by_school(deps=deps, since=T0, until=T0, township=None)


async def test_a_folded_press_is_not_another_alarm() -> None:
    deps = Deps(publisher=RecordingPublisher(), topics=Topics(), repo=InMemoryReportingRepository())
    first = raised("a", "S1")
    folded = first.model_copy(
        update={"event_id": stable_id("a", "fold"), "change": "folded", "press_count": 2}
    )
    await service.record_alarm(deps=deps, event=first)
    await service.record_alarm(deps=deps, event=folded)
    rows = await service.alarms_by_school(deps=deps, since=None, until=None, township=None)
    assert [(r.school_id, r.alarms) for r in rows] == [("S1", 1)]
