"""HTTP API of the patrols service: the unit terminal's positions and unit state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime

from services.patrols import service
from services.patrols.models import (
    BatchAccepted,
    PositionBatch,
    StatusChange,
    StoredFix,
    UnitState,
)
from services.patrols.service import Deps, InvalidBatch
from services.patrols.status import StatusRefused
from shared.auth import Principal, require_role
from shared.events import utcnow

router = APIRouter(tags=["patrols"])

UnitId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Terminal = Annotated[Principal, Depends(require_role("unit", "admin"))]
StatusSetter = Annotated[
    Principal, Depends(require_role("unit", "dispatcher", "supervisor", "admin"))
]
Reader = Annotated[Principal, Depends(require_role("unit", "dispatcher", "supervisor", "admin"))]


def _acting_as(principal: Principal, unit_id: str) -> None:
    """A unit acts only as itself."""
    if principal.role == "unit" and principal.sub != unit_id:
        raise HTTPException(403, "a unit may act only as itself")


@router.post(
    "/v1/units/{unit_id}/positions",
    status_code=202,
    response_model=BatchAccepted,
    summary="A batch of GPS fixes from a unit terminal",
    description="Accepted (202) once every fix is on the broker. Out-of-range coordinates and "
    "fixes from the future refuse the whole batch with 422 naming each field. A batch posted "
    "twice is stored once (fix identity is unit + recorded_at).",
    responses={
        403: {"description": "posting for another unit"},
        404: {"description": "unknown unit"},
    },
)
async def post_positions(
    unit_id: UnitId, batch: PositionBatch, deps: DepsDep, principal: Terminal
) -> BatchAccepted:
    _acting_as(principal, unit_id)
    if deps.county.unit(unit_id) is None:
        raise HTTPException(404, f"unknown unit {unit_id}")
    try:
        return await service.accept_positions(deps=deps, unit_id=unit_id, batch=batch, now=utcnow())
    except InvalidBatch as exc:
        raise RequestValidationError(exc.errors) from exc


@router.get("/v1/units/{unit_id}", response_model=UnitState, summary="Latest state of a unit")
async def get_unit(unit_id: UnitId, deps: DepsDep, principal: Reader) -> UnitState:
    _acting_as(principal, unit_id)
    unit = await service.get(deps=deps, unit_id=unit_id)
    if unit is None:
        raise HTTPException(404, f"unknown unit {unit_id}")
    return unit


@router.get(
    "/v1/units/{unit_id}/positions",
    response_model=list[StoredFix],
    summary="A unit's position history in [since, until) (at most 24 h at a time)",
)
async def get_positions(
    unit_id: UnitId,
    deps: DepsDep,
    principal: Reader,
    since: Annotated[AwareDatetime, Query(description="inclusive, RFC 3339")],
    until: Annotated[AwareDatetime, Query(description="exclusive, RFC 3339")],
) -> list[StoredFix]:
    _acting_as(principal, unit_id)
    if deps.county.unit(unit_id) is None:
        raise HTTPException(404, f"unknown unit {unit_id}")
    try:
        return await service.history(deps=deps, unit_id=unit_id, since=since, until=until)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post(
    "/v1/units/{unit_id}/status",
    response_model=UnitState,
    summary="Change a unit's status (the unit itself, or a dispatcher)",
    description="Rules: off_duty → available | on_post; available → busy | en_route | on_post | "
    "off_duty; busy → available | en_route | off_duty; en_route → on_scene | available | busy; "
    "on_scene → available | busy; on_post → available | en_route | off_duty. A change the rules "
    "do not allow answers 409 with the reason. Published on patrols.unit-status.",
    responses={
        403: {"description": "another unit"},
        404: {"description": "unknown unit"},
        409: {"description": "not allowed from the current status"},
    },
)
async def post_status(
    unit_id: UnitId, body: StatusChange, deps: DepsDep, principal: StatusSetter
) -> UnitState:
    _acting_as(principal, unit_id)
    if deps.county.unit(unit_id) is None:
        raise HTTPException(404, f"unknown unit {unit_id}")
    try:
        return await service.change_status(
            deps=deps,
            unit_id=unit_id,
            status=body.status,
            actor=principal.sub,
            reason=body.reason,
            now=utcnow(),
        )
    except StatusRefused as exc:
        raise HTTPException(409, exc.reason) from exc
