"""HTTP API of the reporting service: reports (JSON or CSV), activities, and the pages."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel

from services.reporting import figures, pages, service
from services.reporting.models import (
    ActivityAccepted,
    ActivityRequest,
    AlarmOutcomeRow,
    CoverageRow,
    GuardPostRow,
    InspectionItemRow,
    InspectionsReport,
    IntervalFigures,
    OutreachReport,
    OutreachRow,
    PeriodSummary,
    ResponseTimes,
    SchoolAlarmCount,
    ViolationRow,
    ViolationsReport,
)
from services.reporting.service import Deps, Scope
from shared.auth import Principal, require_role
from shared.events import ActivityKind, ActivityRecorded, AlarmKind, ViolationKind, utcnow
from shared.inputs import Moment

router = APIRouter(tags=["reports"])
activities_router = APIRouter(tags=["activities"])
pages_router = APIRouter(tags=["pages"])

STATIC = Path(__file__).parent / "static"
T = TypeVar("T")


async def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


async def period(
    since: Annotated[Moment | None, Query(description="inclusive, RFC 3339")] = None,
    until: Annotated[Moment | None, Query(description="exclusive, RFC 3339")] = None,
    township: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    school_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> Scope:
    """The filters every report takes; an unknown township or school is a 422."""
    return Scope(since=since, until=until, township=township, school_id=school_id)


DepsDep = Annotated[Deps, Depends(get_deps)]
PeriodDep = Annotated[Scope, Depends(period)]
Reader = Annotated[Principal, Depends(require_role("supervisor", "dispatcher", "admin"))]
Recorder = Annotated[Principal, Depends(require_role("supervisor", "admin"))]
Format = Annotated[Literal["json", "csv"], Query(description="csv: the report's rows as CSV")]


def _csv(model: type[BaseModel], rows: Sequence[BaseModel], name: str) -> Response:
    return PlainTextResponse(
        figures.to_csv(model, rows),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get(
    "/v1/reports/alarms-by-school",
    response_model=list[SchoolAlarmCount],
    summary="Alarms per school in a period (tests and drills counted apart)",
)
async def alarms_by_school(
    deps: DepsDep,
    _: Reader,
    since: Annotated[Moment | None, Query(description="inclusive, RFC 3339")] = None,
    until: Annotated[Moment | None, Query(description="exclusive, RFC 3339")] = None,
    township: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SchoolAlarmCount]:
    return await service.alarms_by_school(deps=deps, since=since, until=until, township=township)


@router.get(
    "/v1/reports/response-times",
    response_model=ResponseTimes,
    summary="Press → acknowledged / unit assigned / on scene / resolved: p50, p90, p99, max",
    description="Over the real alarms raised in [since, until), optionally of one township, "
    "school or kind; tests and drills never enter the figures (`tests_excluded` counts them). "
    "Percentiles by nearest rank, in seconds. `format=csv` gives the same rows as CSV.",
)
async def response_times(
    deps: DepsDep,
    _: Reader,
    scope: PeriodDep,
    kind: Annotated[AlarmKind | None, Query()] = None,
    format: Format = "json",
) -> Response | ResponseTimes:
    scope = dataclasses.replace(scope, kind=kind)
    report = await service.response_times(deps=deps, scope=scope)
    if format == "csv":
        return _csv(IntervalFigures, report.intervals, "response-times")
    return report


@router.get(
    "/v1/reports/alarms",
    response_model=list[AlarmOutcomeRow],
    summary="Alarms by kind and outcome (tests and drills in their own column)",
)
async def alarm_outcomes(
    deps: DepsDep,
    _: Reader,
    scope: PeriodDep,
    kind: Annotated[AlarmKind | None, Query()] = None,
    format: Format = "json",
) -> Response | list[AlarmOutcomeRow]:
    scope = dataclasses.replace(scope, kind=kind)
    rows = await service.alarm_outcomes(deps=deps, scope=scope)
    return _csv(AlarmOutcomeRow, rows, "alarms") if format == "csv" else rows


@router.get(
    "/v1/reports/guard-posts",
    response_model=list[GuardPostRow],
    summary="Guard-post staffing rate and gaps per school and rush-hour window",
    description="From each window's final outcome (staffed, late, empty) as patrols judged it "
    "at the window's end; `kind` picks one window.",
)
async def guard_posts(
    deps: DepsDep,
    _: Reader,
    scope: PeriodDep,
    kind: Annotated[Literal["morning", "noon", "afternoon"] | None, Query()] = None,
    format: Format = "json",
) -> Response | list[GuardPostRow]:
    scope = dataclasses.replace(scope, kind=kind)
    rows = await service.guard_posts(deps=deps, scope=scope)
    return _csv(GuardPostRow, rows, "guard-posts") if format == "csv" else rows


@router.get(
    "/v1/reports/coverage",
    response_model=list[CoverageRow],
    summary="Patrol coverage: every school, its patrol points and the check-ins there",
    description="A school is covered when every one of its points (of `kind`, if given) has an "
    "accepted check-in in the period; check-ins outside the geofence are counted as flagged.",
)
async def coverage(
    deps: DepsDep,
    _: Reader,
    scope: PeriodDep,
    kind: Annotated[Literal["must_reach", "must_patrol", "stop"] | None, Query()] = None,
    format: Format = "json",
) -> Response | list[CoverageRow]:
    scope = dataclasses.replace(scope, kind=kind)
    rows = await service.coverage(deps=deps, scope=scope)
    return _csv(CoverageRow, rows, "coverage") if format == "csv" else rows


@router.get(
    "/v1/reports/violations",
    response_model=ViolationsReport,
    summary="Violations by kind and campaign",
)
async def violations(
    deps: DepsDep,
    _: Reader,
    scope: PeriodDep,
    kind: Annotated[ViolationKind | None, Query()] = None,
    format: Format = "json",
) -> Response | ViolationsReport:
    scope = dataclasses.replace(scope, kind=kind)
    report = await service.violations(deps=deps, scope=scope)
    return _csv(ViolationRow, report.rows, "violations") if format == "csv" else report


@router.get(
    "/v1/reports/inspections",
    response_model=InspectionsReport,
    summary="Security inspections: pass rate per checklist item, three defences (三防) met",
)
async def inspections(
    deps: DepsDep, _: Reader, scope: PeriodDep, format: Format = "json"
) -> Response | InspectionsReport:
    report = await service.inspections(deps=deps, scope=scope)
    return _csv(InspectionItemRow, report.items, "inspections") if format == "csv" else report


@router.get(
    "/v1/reports/outreach",
    response_model=OutreachReport,
    summary="Outreach: schools reached, sessions, audience, letters to parents, drills",
)
async def outreach(
    deps: DepsDep, _: Reader, scope: PeriodDep, format: Format = "json"
) -> Response | OutreachReport:
    report = await service.outreach(deps=deps, scope=scope)
    return _csv(OutreachRow, report.by_topic, "outreach") if format == "csv" else report


@router.get(
    "/v1/reports/summary",
    response_model=PeriodSummary,
    summary="The period on one page: 'N campaigns, N violations, N schools, ...'",
)
async def summary(
    deps: DepsDep, _: Reader, scope: PeriodDep, format: Format = "json"
) -> Response | PeriodSummary:
    report = (await service.overview(deps=deps, scope=scope)).summary
    return _csv(PeriodSummary, [report], "summary") if format == "csv" else report


@activities_router.post(
    "/v1/activities",
    status_code=202,
    response_model=ActivityAccepted,
    summary="Record an inspection, drill, session or letters to parents (supervisors)",
    description="Accepted once it is on Kafka (activities.recorded); the same activity_id again "
    "is stored once. An inspection lists every checklist item; an unknown school or a time in "
    "the future is a 422 naming the field.",
)
async def post_activity(
    body: ActivityRequest, deps: DepsDep, principal: Recorder
) -> ActivityAccepted:
    event = await service.create_activity(
        deps=deps, request=body, actor=principal.sub, now=utcnow()
    )
    return ActivityAccepted(activity_id=event.activity_id, event_id=event.event_id)


@activities_router.get(
    "/v1/activities",
    response_model=list[ActivityRecorded],
    summary="Recorded activities, oldest first",
)
async def get_activities(
    deps: DepsDep,
    _: Reader,
    scope: PeriodDep,
    kind: Annotated[ActivityKind | None, Query()] = None,
) -> list[ActivityRecorded]:
    scope = dataclasses.replace(scope, kind=kind)
    return await service.get_activities(deps=deps, scope=scope)


@router.get(
    "/v1/reports/dashboard",
    response_class=HTMLResponse,
    summary="The dashboard's charts for a period, as HTML with inline SVG",
)
async def dashboard_charts(deps: DepsDep, _: Reader, scope: PeriodDep) -> HTMLResponse:
    data = await service.overview(deps=deps, scope=scope)
    return HTMLResponse(pages.dashboard(data))


@router.get(
    "/v1/reports/printable",
    response_class=HTMLResponse,
    summary="The period's report as printable HTML",
)
async def printable(deps: DepsDep, _: Reader, scope: PeriodDep) -> HTMLResponse:
    data = await service.overview(deps=deps, scope=scope)
    return HTMLResponse(pages.printable(data))


@pages_router.get("/dashboard", include_in_schema=False)
@pages_router.get("/report", include_in_schema=False)
async def reports_page() -> FileResponse:
    """The page shell (sign-in, period); it loads the dashboard or the printable report."""
    return FileResponse(STATIC / "reports.html", media_type="text/html")
