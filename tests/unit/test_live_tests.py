"""Scheduled live tests on fakes: the report for a known period, worked out by hand, and what
planning and reporting refuse."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.alarms import live_tests_service as service
from services.alarms.live_tests import AttemptRequest, LiveTestRequest
from services.alarms.live_tests_service import NoSuchTest, PlanConflict
from shared.errors import InvalidInput
from shared.events import AlarmPressed, Location, stable_id
from shared.provisioning import County, Device, School
from tests.fakes.alarms import InMemoryAlarmRepository
from tests.fakes.live_tests import InMemoryLiveTestRepository

SINCE = datetime(2026, 9, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=30)
COUNTY = County(
    name="t",
    schools=[
        School(school_id="S1", name="一小", township="T1", lat=35.70, lon=105.00),
        School(school_id="S2", name="二中", township="T1", lat=35.71, lon=105.01),
        School(school_id="S3", name="三幼", township="T2", lat=35.72, lon=105.02),
    ],
    devices=[
        Device(device_id="D1a", school_id="S1"),
        Device(device_id="D1b", school_id="S1"),
        Device(device_id="D2", school_id="S2"),
        Device(device_id="D3", school_id="S3"),
    ],
    units=[],
    patrol_points=[],
)


def day(n: int, hour: int, minute: int = 0) -> datetime:
    return SINCE + timedelta(days=n - 1, hours=hour, minutes=minute)


def window(test: str, start: datetime, hours: float = 2, **scope: str) -> LiveTestRequest:
    return LiveTestRequest.model_validate(
        {
            "test_id": stable_id("test", test),
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=hours)).isoformat(),
            **scope,
        }
    )


def pressed(device: str, school: str, at: datetime, *, test: bool = True) -> AlarmPressed:
    press_id = uuid.uuid4()
    return AlarmPressed(
        press_id=press_id,
        alarm_id=stable_id("alarm", str(press_id)),
        school_id=school,
        device_id=device,
        kind="other",
        silent=True,
        test=test,
        location=Location(building="A", floor=1, room="1"),
        pressed_at=at,
        received_at=at,
    )


async def planned_month() -> tuple[InMemoryLiveTestRepository, InMemoryAlarmRepository]:
    """S1 tested on the 2nd, 10-12; the whole of T1 on the 5th, 9-11; nothing for T2."""
    repo, alarms = InMemoryLiveTestRepository(), InMemoryAlarmRepository()
    for request in (
        window("w1", day(2, 10), school_id="S1"),
        window("w2", day(5, 9), township="T1"),
    ):
        await service.plan(repo=repo, county=COUNTY, request=request, actor="li", now=SINCE)
    for press in (
        pressed("D1a", "S1", day(2, 10, 30)),  # tested in w1
        pressed("D2", "S2", day(5, 12)),  # a test press after w2 ended
        pressed("D2", "S2", day(5, 9, 30), test=False),  # a real press in the window
        pressed("D3", "S3", day(9, 9)),  # no window for T2
    ):
        await alarms.record_press(press)
    await service.report_attempt(
        repo=repo,
        county=COUNTY,
        test_id=stable_id("test", "w1"),
        request=AttemptRequest(device_id="D1b", pressed_at=day(2, 10, 40)),
        actor="dispatcher",
    )
    return repo, alarms


async def report(**scope: Any) -> Any:
    repo, alarms = await planned_month()
    return await service.live_test_report(
        repo=repo,
        alarms=alarms,
        county=COUNTY,
        since=SINCE,
        until=UNTIL,
        now=UNTIL,
        school_id=scope.get("school_id"),
        township=scope.get("township"),
    )


async def test_tested_failed_and_not_tested_over_a_month() -> None:
    found = await report()
    rows = {
        r.device_id: (r.status, r.planned, r.test_id, r.received_at, r.reported_pressed_at)
        for r in found.rows
    }
    w1 = stable_id("test", "w1")
    assert rows == {
        "D1a": ("tested", True, w1, day(2, 10, 30), None),
        "D1b": ("failed", True, w1, None, day(2, 10, 40)),
        "D2": ("not_tested", True, None, None, None),  # w2 covers it; its test press came late
        "D3": ("not_tested", False, None, None, None),  # no window planned for T2
    }
    assert (found.tested, found.failed, found.not_tested) == (1, 1, 2)
    assert [r.device_id for r in (await report(township="T2")).rows] == ["D3"]
    assert [r.device_id for r in (await report(school_id="S2")).rows] == ["D2"]


async def test_a_plan_is_stored_once_and_its_id_is_its_own() -> None:
    repo = InMemoryLiveTestRepository()
    request = window("w", day(2, 10), school_id="S1")
    _, new = await service.plan(repo=repo, county=COUNTY, request=request, actor="li", now=SINCE)
    _, again = await service.plan(repo=repo, county=COUNTY, request=request, actor="li", now=UNTIL)
    assert (new, again) == (True, False)
    other = request.model_copy(update={"school_id": "S2"})
    with pytest.raises(PlanConflict):
        await service.plan(repo=repo, county=COUNTY, request=other, actor="li", now=SINCE)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"school_id": "S1", "township": "T1"}, "either school_id or township"),
        ({}, "either school_id or township"),
        ({"school_id": "S1", "hours": -1}, "ends_at must be after starts_at"),
        ({"school_id": "S1", "hours": 25}, "at most 24 hours"),
    ],
)
def test_a_window_needs_one_scope_and_a_sane_span(fields: dict[str, Any], message: str) -> None:
    hours = fields.pop("hours", 2)
    with pytest.raises(ValidationError, match=message):
        window("w", day(2, 10), hours=hours, **fields)


async def test_unknown_scope_and_bad_reports_are_refused_naming_the_field() -> None:
    repo = InMemoryLiveTestRepository()
    for scope, field in (({"school_id": "S404"}, "school_id"), ({"township": "T404"}, "township")):
        with pytest.raises(InvalidInput, match=field):
            await service.plan(
                repo=repo,
                county=COUNTY,
                request=window("x", day(2, 10), **scope),
                actor="li",
                now=SINCE,
            )
    await service.plan(
        repo=repo,
        county=COUNTY,
        request=window("w", day(2, 10), school_id="S1"),
        actor="li",
        now=SINCE,
    )
    test_id = stable_id("test", "w")
    for device, at, field in (
        ("D404", day(2, 10, 30), "unknown device"),
        ("D2", day(2, 10, 30), "not at a school this window covers"),
        ("D1a", day(2, 13), "outside the window"),
    ):
        with pytest.raises(InvalidInput, match=field):
            await service.report_attempt(
                repo=repo,
                county=COUNTY,
                test_id=test_id,
                request=AttemptRequest(device_id=device, pressed_at=at),
                actor="d",
            )
    with pytest.raises(NoSuchTest):
        await service.report_attempt(
            repo=repo,
            county=COUNTY,
            test_id=uuid.uuid4(),
            request=AttemptRequest(device_id="D1a", pressed_at=day(2, 11)),
            actor="d",
        )
    stored = await repo.get(test_id)
    assert stored is not None and stored.attempts == [], "nothing recorded"
