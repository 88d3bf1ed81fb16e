"""HTTP API of scheduled live tests: supervisors plan windows, the command centre records
what a school says it pressed, and the report of tested, failed and not tested buttons."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from services.alarms import live_tests_service
from services.alarms.api import DepsDep
from services.alarms.live_tests import AttemptRequest, LiveTest, LiveTestReport, LiveTestRequest
from services.alarms.live_tests_repository import LiveTestRepository
from services.alarms.live_tests_service import NoSuchTest, PlanConflict
from shared.auth import Principal, require_role
from shared.events import utcnow
from shared.inputs import Moment

router = APIRouter(tags=["live tests"])

Planner = Annotated[Principal, Depends(require_role("supervisor", "admin"))]
Reporter = Annotated[Principal, Depends(require_role("dispatcher", "supervisor", "admin"))]


async def _repo(request: Request) -> LiveTestRepository:
    repo: LiveTestRepository | None = request.app.state.deps.live_tests
    if repo is None:
        raise HTTPException(404, "live tests are not kept here")
    return repo


RepoDep = Annotated[LiveTestRepository, Depends(_repo)]


@router.post(
    "/v1/live-tests",
    response_model=LiveTest,
    status_code=201,
    summary="Plan a live-test window for a school or a township (supervisors)",
    description="Presses marked `test` from the buttons in scope within the window count as "
    "their test. The same test_id and plan again answers 200 with the stored window; the same "
    "test_id for another plan is a 409. An unknown school or township is a 422.",
    responses={
        200: {"description": "this plan was stored before"},
        409: {"description": "test_id already used for another plan"},
    },
)
async def plan(
    body: LiveTestRequest, deps: DepsDep, repo: RepoDep, principal: Planner
) -> JSONResponse:
    try:
        test, new = await live_tests_service.plan(
            repo=repo, county=deps.county, request=body, actor=principal.sub, now=utcnow()
        )
    except PlanConflict as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse(test.model_dump(mode="json"), status_code=201 if new else 200)


@router.get(
    "/v1/live-tests",
    response_model=list[LiveTest],
    summary="Live-test windows overlapping a period, earliest first",
)
async def list_tests(
    repo: RepoDep,
    _: Reporter,
    since: Annotated[Moment, Query(description="inclusive, RFC 3339")],
    until: Annotated[Moment, Query(description="exclusive, RFC 3339")],
) -> list[LiveTest]:
    return await live_tests_service.windows(repo=repo, since=since, until=until)


@router.post(
    "/v1/live-tests/{test_id}/attempts",
    response_model=LiveTest,
    summary="Record a press the school reports within the window (a button that fails it)",
    description="The command centre, on the phone with the school, records which button was "
    "pressed and when; a reported press that never arrived is a failed test. The same report "
    "again changes nothing. A device outside the window's scope or a time outside the window "
    "is a 422.",
    responses={404: {"description": "no such window"}},
)
async def report_attempt(
    test_id: uuid.UUID, body: AttemptRequest, deps: DepsDep, repo: RepoDep, principal: Reporter
) -> LiveTest:
    try:
        return await live_tests_service.report_attempt(
            repo=repo, county=deps.county, test_id=test_id, request=body, actor=principal.sub
        )
    except NoSuchTest:
        raise HTTPException(404, "no such live-test window") from None


@router.get(
    "/v1/live-tests/report",
    response_model=LiveTestReport,
    summary="Buttons tested, failed and not tested over a period",
    description="Every button of the schools in scope: `tested` (a test press arrived within "
    "a window covering its school), `failed` (the school reported pressing it within a window "
    "and nothing arrived), `not_tested` (`planned` says whether a window covered it). Without "
    "`until`, now; without `since`, the 90 days before `until`.",
)
async def live_test_report(
    deps: DepsDep,
    repo: RepoDep,
    _: Reporter,
    since: Annotated[Moment | None, Query(description="inclusive, RFC 3339")] = None,
    until: Annotated[Moment | None, Query(description="exclusive, RFC 3339")] = None,
    school_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    township: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> LiveTestReport:
    return await live_tests_service.live_test_report(
        repo=repo,
        alarms=deps.repo,
        county=deps.county,
        since=since,
        until=until,
        school_id=school_id,
        township=township,
        now=utcnow(),
    )
