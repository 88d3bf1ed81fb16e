"""HTTP API of the reporting service."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import AwareDatetime

from services.reporting import figures, service
from services.reporting.models import ResponseTimes, SchoolAlarmCount
from services.reporting.repository import FactFilter
from services.reporting.service import Deps
from shared.auth import Principal, require_role

router = APIRouter(tags=["reports"])


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Reader = Annotated[Principal, Depends(require_role("supervisor", "dispatcher", "admin"))]


@router.get(
    "/v1/reports/alarms-by-school",
    response_model=list[SchoolAlarmCount],
    summary="Alarms per school in a period (tests and drills counted apart)",
)
async def alarms_by_school(
    deps: DepsDep,
    _: Reader,
    since: Annotated[AwareDatetime | None, Query(description="inclusive, RFC 3339")] = None,
    until: Annotated[AwareDatetime | None, Query(description="exclusive, RFC 3339")] = None,
    township: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SchoolAlarmCount]:
    try:
        return await service.alarms_by_school(
            deps=deps, since=since, until=until, township=township
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


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
    since: Annotated[AwareDatetime | None, Query(description="inclusive, RFC 3339")] = None,
    until: Annotated[AwareDatetime | None, Query(description="exclusive, RFC 3339")] = None,
    township: Annotated[str | None, Query(max_length=64)] = None,
    school_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[
        Literal["intrusion", "violence", "fire", "medical", "other"] | None, Query()
    ] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response | ResponseTimes:
    query = FactFilter(since=since, until=until, township=township, school_id=school_id, kind=kind)
    try:
        report = await service.response_times(deps=deps, query=query)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    if format == "csv":
        return PlainTextResponse(figures.to_csv(report.intervals), media_type="text/csv")
    return report
