"""HTTP API of hazards (隐患排查整改): reported by anyone on duty, assigned, rectified and verified
by supervisors."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from services.patrols import hazards_service
from services.patrols.api import DepsDep, Reader, Supervisor, Viewer
from services.patrols.hazards import (
    Assignment,
    HazardRefused,
    HazardReport,
    Rectification,
    Verification,
)
from shared.events import utcnow
from shared.events.hazards import HazardChanged, HazardState

router = APIRouter(tags=["hazards"])
Reporter = Reader  # a unit, a dispatcher or a supervisor reports a hazard

HAZARD_RESPONSES: dict[int | str, dict[str, str]] = {
    404: {"description": "no such hazard"},
    409: {"description": "the rules do not allow it, or another change came first (reload)"},
}


@router.post(
    "/v1/hazards",
    status_code=201,
    response_model=HazardChanged,
    summary="Report a hazard at or near a school (隐患)",
    description="Found by an inspection, a patrol or a video check; stored `open` and published "
    "on patrols.hazards. The same `hazard_id` again answers the stored hazard (a retry); "
    "another hazard under a taken id is 409.",
    responses={409: {"description": "the id is another hazard's"}},
)
async def post_hazard(body: HazardReport, deps: DepsDep, principal: Reporter) -> HazardChanged:
    try:
        return await hazards_service.report(
            deps=deps, request=body, actor=principal.sub, now=utcnow()
        )
    except HazardRefused as exc:
        raise HTTPException(409, str(exc)) from exc


@router.get("/v1/hazards", response_model=list[HazardChanged], summary="Hazards, newest first")
async def get_hazards(
    deps: DepsDep,
    _: Viewer,
    school_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    township: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    state: HazardState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[HazardChanged]:
    schools = hazards_service.schools_of(deps=deps, school_id=school_id, township=township)
    return await deps.repo.hazards(school_ids=schools, state=state, limit=limit)


@router.get("/v1/hazards/{hazard_id}", response_model=HazardChanged, summary="One hazard")
async def get_hazard(hazard_id: uuid.UUID, deps: DepsDep, _: Reporter) -> HazardChanged:
    hazard = await deps.repo.hazard(hazard_id)
    if hazard is None:
        raise HTTPException(404, f"no hazard {hazard_id}")
    return hazard


async def _hazard_change(step: Awaitable[HazardChanged], hazard_id: uuid.UUID) -> HazardChanged:
    try:
        return await step
    except LookupError as exc:
        raise HTTPException(404, f"no hazard {hazard_id}") from exc
    except HazardRefused as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post(
    "/v1/hazards/{hazard_id}/assign",
    response_model=HazardChanged,
    summary="Assign a hazard to a department with a deadline (again: reassign it)",
    responses=HAZARD_RESPONSES,
)
async def assign_hazard(
    hazard_id: uuid.UUID, body: Assignment, deps: DepsDep, principal: Supervisor
) -> HazardChanged:
    step = hazards_service.assign(
        deps=deps, hazard_id=hazard_id, body=body, actor=principal.sub, now=utcnow()
    )
    return await _hazard_change(step, hazard_id)


@router.post(
    "/v1/hazards/{hazard_id}/rectify",
    response_model=HazardChanged,
    summary="Record that the department rectified a hazard (after its deadline: late)",
    responses=HAZARD_RESPONSES,
)
async def rectify_hazard(
    hazard_id: uuid.UUID, body: Rectification, deps: DepsDep, principal: Supervisor
) -> HazardChanged:
    step = hazards_service.rectify(
        deps=deps, hazard_id=hazard_id, body=body, actor=principal.sub, now=utcnow()
    )
    return await _hazard_change(step, hazard_id)


@router.post(
    "/v1/hazards/{hazard_id}/verify",
    response_model=HazardChanged,
    summary="Verify a rectification: passed, or back to the department with a new deadline",
    responses=HAZARD_RESPONSES,
)
async def verify_hazard(
    hazard_id: uuid.UUID, body: Verification, deps: DepsDep, principal: Supervisor
) -> HazardChanged:
    step = hazards_service.verify(
        deps=deps, hazard_id=hazard_id, body=body, actor=principal.sub, now=utcnow()
    )
    return await _hazard_change(step, hazard_id)
