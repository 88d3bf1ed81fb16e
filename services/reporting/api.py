"""HTTP API of the reporting service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AwareDatetime

from services.reporting import service
from services.reporting.models import SchoolAlarmCount
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
