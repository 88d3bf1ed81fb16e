"""Scheduled live tests: planning windows, the presses a school reports, and the report of
which buttons were tested, failed or not tested."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from services.alarms.live_tests import (
    Attempt,
    AttemptRequest,
    LiveTest,
    LiveTestReport,
    LiveTestRequest,
    report,
)
from services.alarms.live_tests_repository import LiveTestRepository
from services.alarms.repository import AlarmRepository
from shared.errors import InvalidInput, field_error, invalid_query
from shared.mongo import to_milliseconds
from shared.provisioning import County

DEFAULT_SPAN = timedelta(days=90)  # a quarter: some counties test every button each quarter


class NoSuchTest(LookupError):
    """No live-test window has this id."""


class PlanConflict(Exception):
    """The test_id is already another plan's."""


async def plan(
    *,
    repo: LiveTestRepository,
    county: County,
    request: LiveTestRequest,
    actor: str,
    now: datetime,
) -> tuple[LiveTest, bool]:
    """Store the window once; returns it and whether it is new. An unknown school or township
    is a 422 naming the field; the same test_id for another plan a PlanConflict."""
    if request.school_id is not None and county.school(request.school_id) is None:
        raise InvalidInput([field_error("school_id", f"unknown school {request.school_id}")])
    if request.township is not None and not any(
        s.township == request.township for s in county.schools
    ):
        raise InvalidInput([field_error("township", f"unknown township {request.township}")])
    times = {
        "starts_at": to_milliseconds(request.starts_at),
        "ends_at": to_milliseconds(request.ends_at),
        "planned_at": to_milliseconds(now),
    }
    test = LiveTest.model_validate(
        request.model_dump() | times | {"planned_by": actor, "attempts": []}
    )
    stored = await repo.create(test)
    if not stored.same_plan(test):
        raise PlanConflict(f"test_id {request.test_id} is another plan's")
    return stored, stored.planned_at == test.planned_at


async def report_attempt(
    *,
    repo: LiveTestRepository,
    county: County,
    test_id: uuid.UUID,
    request: AttemptRequest,
    actor: str,
) -> LiveTest:
    """Record that the school pressed a button of this window's scope within it."""
    test = await repo.get(test_id)
    if test is None:
        raise NoSuchTest(str(test_id))
    device = next((d for d in county.devices if d.device_id == request.device_id), None)
    if device is None:
        raise InvalidInput([field_error("device_id", f"unknown device {request.device_id}")])
    school = county.school(device.school_id)
    if school is None or not test.covers(school):
        raise InvalidInput([field_error("device_id", "not at a school this window covers")])
    if not test.holds(request.pressed_at):
        raise InvalidInput([field_error("pressed_at", "outside the window")])
    attempt = Attempt(device_id=device.device_id, pressed_at=request.pressed_at, reported_by=actor)
    await repo.add_attempt(test_id, attempt)
    stored = await repo.get(test_id)
    assert stored is not None  # it was there a moment ago; windows are never deleted
    return stored


async def windows(*, repo: LiveTestRepository, since: datetime, until: datetime) -> list[LiveTest]:
    return await repo.overlapping(since, until)


async def live_test_report(
    *,
    repo: LiveTestRepository,
    alarms: AlarmRepository,
    county: County,
    since: datetime | None,
    until: datetime | None,
    school_id: str | None,
    township: str | None,
    now: datetime,
) -> LiveTestReport:
    """Every button of the schools in scope over [since, until): without `until`, now; without
    `since`, the quarter before `until`."""
    until = until or now
    since = since or until - DEFAULT_SPAN
    if since >= until:
        raise invalid_query("until", "since must be before until")
    schools = county.schools
    if township is not None:
        schools = [s for s in schools if s.township == township]
        if not schools:
            raise invalid_query("township", f"unknown township {township[:64]}")
    if school_id is not None:
        schools = [s for s in schools if s.school_id == school_id]
        if not schools:
            raise invalid_query("school_id", f"unknown school {school_id[:64]}")
    planned = await repo.overlapping(since, until)
    presses = await alarms.test_presses(since, until)
    return report(planned, presses, county, schools, since=since, until=until)
