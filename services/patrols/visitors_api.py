"""HTTP API of gate visitor logs (外来人员进校登记): a school's gate account (role `school`,
signed in under the school's id) records visitors in and out; the bureau reads them masked."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from services.patrols import visitors_service
from services.patrols.api import DepsDep
from services.patrols.deps import Deps
from services.patrols.visitors import GateVisit, VisitorArrival, VisitorDeparture, VisitView
from services.patrols.visitors_service import VisitRefused
from shared.auth import Principal, for_school, require_role
from shared.events import utcnow
from shared.inputs import Moment
from shared.web import ResourceId

router = APIRouter(tags=["gate visitors"])
Gate = Annotated[Principal, Depends(require_role("school", "supervisor", "admin"))]
GateReader = Annotated[
    Principal, Depends(require_role("school", "dispatcher", "supervisor", "admin"))
]
RESPONSES: dict[int | str, dict[str, str]] = {
    403: {"description": "a school's account acts only for its school"},
    404: {"description": "no such school, or no such visit there"},
}


def _shown(visit: GateVisit, principal: Principal) -> VisitView:
    """In clear to the school's own gate; masked to the bureau."""
    return visit.view(clear=principal.role == "school")


def _school(deps: Deps, principal: Principal, school_id: str) -> None:
    for_school(principal, school_id)
    if deps.county.school(school_id) is None:
        raise HTTPException(404, f"unknown school {school_id}")


@router.post(
    "/v1/schools/{school_id}/visitors",
    status_code=201,
    response_model=VisitView,
    summary="A visitor in at the school's gate",
    description="Stored and published (no person) on patrols.gate-visits. The same `visit_id` "
    "again answers the stored visit; another visit under a taken id is 409. A visitor still "
    "inside when the school closes (SCHOOL_CLOSES_AT, county time) is flagged `after_hours`.",
    responses=RESPONSES | {409: {"description": "the id is another visit's"}},
)
async def post_visitor(
    school_id: ResourceId, body: VisitorArrival, deps: DepsDep, principal: Gate
) -> VisitView:
    _school(deps, principal, school_id)
    try:
        visit = await visitors_service.arrive(
            deps=deps, school_id=school_id, request=body, actor=principal.sub, now=utcnow()
        )
    except VisitRefused as exc:
        raise HTTPException(409, str(exc)) from exc
    return _shown(visit, principal)


@router.post(
    "/v1/schools/{school_id}/visitors/{visit_id}/out",
    response_model=VisitView,
    summary="The visitor out of the gate",
    description="The same departure again answers the visit; another time is 409.",
    responses=RESPONSES | {409: {"description": "the visitor left at another time already"}},
)
async def post_visitor_out(
    school_id: ResourceId,
    visit_id: uuid.UUID,
    body: VisitorDeparture,
    deps: DepsDep,
    principal: Gate,
) -> VisitView:
    _school(deps, principal, school_id)
    try:
        visit = await visitors_service.leave(
            deps=deps, school_id=school_id, visit_id=visit_id, request=body, now=utcnow()
        )
    except LookupError as exc:
        raise HTTPException(404, f"no visit {visit_id} at {school_id}") from exc
    except VisitRefused as exc:
        raise HTTPException(409, str(exc)) from exc
    return _shown(visit, principal)


@router.get(
    "/v1/schools/{school_id}/visitors",
    response_model=list[VisitView],
    summary="The school's visitor log, newest first (`inside=true`: those still inside)",
    responses=RESPONSES,
)
async def get_visitors(
    school_id: ResourceId,
    deps: DepsDep,
    principal: GateReader,
    inside: bool | None = None,
    since: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[VisitView]:
    _school(deps, principal, school_id)
    visits = await deps.repo.visits(school_id=school_id, inside=inside, since=since, limit=limit)
    return [_shown(v, principal) for v in visits]
