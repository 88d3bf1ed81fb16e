"""HTTP API of the reporting service: reports (JSON or CSV), activities, and the pages."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, cast
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel

from services.reporting import exports, models, pages, service, trends
from services.reporting.service import Deps, Scope
from shared.auth import Principal, require_role
from shared.events import (
    ActivityKind,
    ActivityRecorded,
    AlarmKind,
    PremisesKind,
    Traffic,
    ViolationKind,
    VisitPurpose,
    utcnow,
)
from shared.events.hazards import HazardKind
from shared.inputs import Moment
from shared.labels import DEFAULT_LANG, Lang, LangQuery, Words

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


def _csv(rows: Rows, report: Any, name: str, *, lang: Lang, zone: ZoneInfo) -> Response:
    return PlainTextResponse(
        exports.to_csv(rows.model, rows.of(report), lang=lang, zone=zone),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get(
    "/v1/reports/alarms-by-school",
    response_model=list[models.SchoolAlarmCount],
    summary="Alarms per school in a period (tests and drills counted apart)",
)
async def alarms_by_school(
    deps: DepsDep,
    _: Reader,
    since: Annotated[Moment | None, Query(description="inclusive, RFC 3339")] = None,
    until: Annotated[Moment | None, Query(description="exclusive, RFC 3339")] = None,
    township: Annotated[str | None, Query(max_length=64)] = None,
) -> list[models.SchoolAlarmCount]:
    return await service.alarms_by_school(deps=deps, since=since, until=until, township=township)


@dataclass(frozen=True)
class Rows:
    """What a report's CSV holds: rows of `model`, from the report itself when it is a list,
    else from its `field`, or the report as its one row (`field` "")."""

    model: type[BaseModel]
    field: str | None = None

    def of(self, report: Any) -> Sequence[BaseModel]:
        if self.field is None:
            return cast(Sequence[BaseModel], report)
        if self.field == "":
            return [report]
        return cast(Sequence[BaseModel], getattr(report, self.field))


@dataclass(frozen=True)
class Report:
    """One report endpoint at /v1/reports/<name>: `compute` gives the report (`response`) for
    a scope; `rows` picks what its CSV holds (the rows' model and the rows); `kind` is the type
    of its `kind` filter, if it has one."""

    name: str
    response: Any
    summary: str
    compute: Callable[..., Awaitable[Any]]  # called as compute(deps=..., scope=...)
    rows: Rows
    kind: Any = None
    description: str = ""


async def _summary(*, deps: Deps, scope: Scope) -> models.PeriodSummary:
    return (await service.overview(deps=deps, scope=scope, with_devices=False)).summary


REPORTS: dict[str, Report] = {
    "response_times": Report(
        "response-times",
        models.ResponseTimes,
        "Press → acknowledged / unit assigned / on scene / resolved: p50, p90, p99, max",
        service.response_times,
        Rows(models.IntervalFigures, "intervals"),
        kind=AlarmKind,
        description="Over the real alarms raised in [since, until), optionally of one township, "
        "school or kind; tests and drills never enter the figures (`tests_excluded` counts "
        "them). Percentiles by nearest rank, in seconds. `format=csv` gives the same rows as CSV.",
    ),
    "alarm_outcomes": Report(
        "alarms",
        list[models.AlarmOutcomeRow],
        "Alarms by kind and outcome (tests and drills in their own column)",
        service.alarm_outcomes,
        Rows(models.AlarmOutcomeRow),
        kind=AlarmKind,
    ),
    "guard_posts": Report(
        "guard-posts",
        list[models.GuardPostRow],
        "Guard-post staffing rate and gaps per school and rush-hour window",
        service.guard_posts,
        Rows(models.GuardPostRow),
        kind=Literal["morning", "noon", "afternoon"],
        description="From each window's final outcome (staffed, late, empty) as patrols judged "
        "it at the window's end; `kind` picks one window.",
    ),
    "devices": Report(
        "devices",
        models.DevicesReport,
        "Panic buttons: availability per school and township, troubles by kind",
        service.devices,
        Rows(models.DeviceAvailabilityRow, "schools"),
        description="From the troubles button supervision announced: troubles raised in "
        "[since, until) by kind, button-hours offline within the period (a trouble raised before "
        "it counts from `since`), availability = 1 - offline time / (buttons * period), and "
        "buttons still in trouble at the end. Without `since`, the week before `until` (default "
        "now). `format=csv` gives the schools' rows.",
    ),
    "coverage": Report(
        "coverage",
        list[models.CoverageRow],
        "Patrol coverage: every school, its patrol points and the check-ins there",
        service.coverage,
        Rows(models.CoverageRow),
        kind=Literal["must_reach", "must_patrol", "stop"],
        description="A school is covered when every one of its points (of `kind`, if given) has "
        "an accepted check-in in the period; check-ins outside the geofence are counted as "
        "flagged.",
    ),
    "violations": Report(
        "violations",
        models.ViolationsReport,
        "Violations by kind and campaign",
        service.violations,
        Rows(models.ViolationRow, "rows"),
        kind=ViolationKind,
    ),
    "hazards": Report(
        "hazards",
        models.HazardsReport,
        "Hazards: found, rectified on time or late, overdue, verified, by department and township",
        service.hazards,
        Rows(models.HazardRow, "rows"),
        kind=HazardKind,
        description="Hazards reported in [since, until), each as it stood at the period's end "
        "(now, if earlier): the first row counts them all, then one per department they were "
        "last assigned to, then one per township. `format=csv` gives the rows as CSV.",
    ),
    "video_checks": Report(
        "video-checks",
        models.VideoBulletin,
        "Video patrol checks (视频巡查) beside the posts' GPS verdicts (a day's: the bulletin)",
        service.video_checks,
        Rows(models.VideoCheckRow, "rows"),
        kind=Traffic,
        description="The checks in [since, until), each beside its post's GPS verdict (the final "
        "outcome of the window it fell in: had the unit arrived by then), and counts of what was "
        "found. `disagrees`: video and GPS both say, and differ. The printable bulletin is "
        "`/v1/reports/video-bulletin`; `format=csv` gives the rows as CSV.",
    ),
    "community_checks": Report(
        "community-checks",
        models.CommunityChecksReport,
        "Community checks of rental housing and hotels near schools (出租房屋、旅馆业)",
        service.community_checks,
        Rows(models.CommunityCheckRow, "rows"),
        kind=PremisesKind,
        description="Checks made in [since, until): the first row counts them all, then one "
        "per township; `kind` keeps one kind of premises. People are counted, never named. "
        "`format=csv` gives the rows as CSV.",
    ),
    "gate_visits": Report(
        "gate-visits",
        models.GateVisitsReport,
        "Visitors at schools' gates (外来人员进校登记): in, still inside, after hours, stay",
        service.gate_visits,
        Rows(models.GateVisitRow, "rows"),
        kind=VisitPurpose,
        description="Visitors who came in during [since, until), each as it stood at the "
        "period's end (now, if earlier): still inside then, flagged as inside when the school "
        "closed, and the median stay of those who left; the first row all schools, then one per "
        "school; `kind` keeps one purpose. `format=csv` gives the rows as CSV.",
    ),
    "visibility": Report(
        "visibility",
        models.VisibilityReport,
        "Police visibility (见警率) at schools in rush hours, and minutes present",
        service.visibility,
        Rows(models.VisibilityRow, "rows"),
        kind=Literal["morning", "noon", "afternoon"],
        description="Each school's rush-hour windows that started in [since, until) "
        "(`kind`: one window of the day), worked out from positions once they ended: seen "
        "when a unit was within VISIBILITY_RADIUS_M of the school at some moment; minutes "
        "present, the minutes any unit was; windows with a vehicle, foot or special patrol "
        "near. The first row all schools, then one per township, then one per school.",
    ),
    "inspections": Report(
        "inspections",
        models.InspectionsReport,
        "Security inspections: pass rate per checklist item, three defences (三防) met",
        service.inspections,
        Rows(models.InspectionItemRow, "items"),
    ),
    "outreach": Report(
        "outreach",
        models.OutreachReport,
        "Outreach: schools reached, sessions, audience, letters to parents, drills",
        service.outreach,
        Rows(models.OutreachRow, "by_topic"),
    ),
    "trends": Report(
        "trends",
        models.Trends,
        "The period week by week: alarms, response times, guard-post staffing, violations",
        service.trends,
        Rows(models.WeekFigures, "weeks"),
        description="The county's weeks, Monday to Sunday (the first and last clipped to the "
        "period), each with the figures its own report gives: real alarms and tests, press → "
        "acknowledged and → on scene p50 and p90, guard-post windows and staffing rate, "
        "violations. Without `since`, the twelve weeks before `until` (default now); at most "
        "60 weeks. `format=csv` gives the weeks.",
    ),
    "summary": Report(
        "summary",
        models.PeriodSummary,
        "The period on one page: 'N campaigns, N violations, N schools, ...'",
        _summary,
        Rows(models.PeriodSummary, ""),
    ),
}


def _endpoint(report: Report) -> Callable[..., Awaitable[Any]]:
    """The report's route function, with the signature FastAPI reads its parameters from."""

    async def endpoint(
        deps: Deps,
        _: Principal,
        scope: Scope,
        format: str = "json",
        kind: str | None = None,
        lang: Lang = DEFAULT_LANG,
    ) -> Any:
        result = await report.compute(deps=deps, scope=dataclasses.replace(scope, kind=kind))
        if format == "csv":
            return _csv(report.rows, result, report.name, lang=lang, zone=deps.county.zone)
        return result

    parameters = [
        inspect.Parameter("deps", KEYWORD, annotation=DepsDep),
        inspect.Parameter("_", KEYWORD, annotation=Reader),
        inspect.Parameter("scope", KEYWORD, annotation=PeriodDep),
    ]
    if report.kind is not None:
        kind = Annotated[report.kind | None, Query()]  # type: ignore[name-defined]
        parameters.append(inspect.Parameter("kind", KEYWORD, annotation=kind, default=None))
    parameters.append(inspect.Parameter("format", KEYWORD, annotation=Format, default="json"))
    parameters.append(
        inspect.Parameter("lang", KEYWORD, annotation=LangQuery, default=DEFAULT_LANG)
    )
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return endpoint


KEYWORD = inspect.Parameter.KEYWORD_ONLY
for route_name, report in REPORTS.items():
    router.add_api_route(
        f"/v1/reports/{report.name}",
        _endpoint(report),
        methods=["GET"],
        name=route_name,
        response_model=report.response,
        summary=report.summary,
        description=report.description or None,
    )


@activities_router.post(
    "/v1/activities",
    status_code=202,
    response_model=models.ActivityAccepted,
    summary="Record an inspection, drill, session or letters to parents (supervisors)",
    description="Accepted once it is on Kafka (activities.recorded); the same activity_id again "
    "is stored once. An inspection lists every checklist item; an unknown school or a time in "
    "the future is a 422 naming the field.",
)
async def post_activity(
    body: models.ActivityRequest, deps: DepsDep, principal: Recorder
) -> models.ActivityAccepted:
    event = await service.create_activity(
        deps=deps, request=body, actor=principal.sub, now=utcnow()
    )
    return models.ActivityAccepted(activity_id=event.activity_id, event_id=event.event_id)


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
async def dashboard_charts(
    deps: DepsDep, _: Reader, scope: PeriodDep, lang: LangQuery = DEFAULT_LANG
) -> HTMLResponse:
    schools = service.schools_in(deps=deps, scope=scope)
    words, zone = Words(lang), deps.county.zone
    if len(schools) > trends.MAX_SCHOOLS:  # a province: its trends are read per township
        data = await service.overview(deps=deps, scope=scope, with_devices=False)
        return HTMLResponse(pages.dashboard(data, words=words, zone=zone, around=None))
    data, trend, alarms = await asyncio.gather(
        service.overview(deps=deps, scope=scope, with_devices=False),
        service.trends(deps=deps, scope=scope, latest=True),
        service.alarms_by_school(
            deps=deps, since=scope.since, until=scope.until, township=scope.township
        ),
    )
    around = pages.Around(trend=trend, schools=schools, alarms=alarms)
    return HTMLResponse(pages.dashboard(data, words=words, zone=zone, around=around))


@router.get(
    "/v1/reports/printable",
    response_class=HTMLResponse,
    summary="The period's report as printable HTML",
)
async def printable(
    deps: DepsDep, _: Reader, scope: PeriodDep, lang: LangQuery = DEFAULT_LANG
) -> HTMLResponse:
    data = await service.overview(deps=deps, scope=scope)
    return HTMLResponse(pages.printable(data, words=Words(lang), zone=deps.county.zone))


@router.get(
    "/v1/reports/video-bulletin",
    response_class=HTMLResponse,
    summary="The video check bulletin (视频巡查通报) of the period, as printable HTML",
)
async def video_bulletin(
    deps: DepsDep, _: Reader, scope: PeriodDep, lang: LangQuery = DEFAULT_LANG
) -> HTMLResponse:
    bulletin = await service.video_checks(deps=deps, scope=scope)
    words, zone = Words(lang), deps.county.zone
    places = (scope.township, scope.school_id)
    return HTMLResponse(pages.bulletin(bulletin, scope, places=places, words=words, zone=zone))


@pages_router.get("/dashboard", include_in_schema=False)
@pages_router.get("/report", include_in_schema=False)
@pages_router.get("/bulletin", include_in_schema=False)
async def reports_page() -> FileResponse:
    """The page shell (sign-in, period); it loads the dashboard or the printable report."""
    return FileResponse(STATIC / "reports.html", media_type="text/html")
