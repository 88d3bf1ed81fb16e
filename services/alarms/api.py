"""HTTP API of the alarms service: button ingress (contract §5.1), the dispatcher's alarm list
and commands, and the unit's en-route / on-scene reports."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.alarms import commands_service, presses_service, service, supervision_service
from services.alarms.commands_service import NoSuchAlarm
from services.alarms.deps import Deps
from services.alarms.models import (
    AlarmDetail,
    AlarmOut,
    CommandResult,
    PressAccepted,
    PressRequest,
)
from services.alarms.presses_service import (
    NotAllowed,
    NotAuthenticated,
    PressConflict,
    RateLimited,
    Rejected,
)
from services.alarms.repository import AlarmFilter
from shared.auth import Principal, require_role
from shared.commands import AssignBody, CancelBody, CommandBody, ResolveBody
from shared.errors import InvalidInput, field_error, parse_body
from shared.events import AlarmKind, AlarmState, utcnow
from shared.inputs import Moment
from shared.openapi_docs import inline_schema

log = logging.getLogger(__name__)

router = APIRouter(tags=["alarms"])

SIGNATURE_HEADERS = {
    "X-Device-Id": "provisioned device id",
    "X-Timestamp": "Unix seconds; within 300 s of the server clock",
    "X-Signature": 'lowercase hex HMAC-SHA256(device secret, "<X-Timestamp>." + raw body)',
}
COMMAND_WAIT_S = 5.0
REJECTION_STATUS: dict[type[Rejected], int] = {
    NotAuthenticated: 401,
    NotAllowed: 403,
    PressConflict: 409,
    RateLimited: 429,
}


async def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Reader = Annotated[Principal, Depends(require_role("dispatcher", "supervisor", "admin"))]
Dispatcher = Reader
Responder = Annotated[Principal, Depends(require_role("unit", "dispatcher", "supervisor", "admin"))]


@router.post(
    "/v1/alarms",
    status_code=202,
    response_model=PressAccepted,
    summary="A button press (signed by the device)",
    description="Accepted (202) only once durably recorded on the broker. "
    "The same press_id again answers 202 with the same alarm_id and duplicate=true. "
    "A signature is good once (a retry of the same press excepted). "
    "Headers: " + "; ".join(f"{k}: {v}" for k, v in SIGNATURE_HEADERS.items()),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(PressRequest)}},
        }
    },
    responses={
        401: {"description": "bad/missing/replayed signature, unknown device, stale timestamp"},
        403: {"description": "device pressing for another school"},
        409: {"description": "press_id already used by another device"},
        413: {"description": "body too large"},
        422: {"description": "invalid body; names the fields"},
        429: {"description": "too many presses from this device; see Retry-After"},
    },
)
async def press(request: Request, deps: DepsDep) -> JSONResponse:
    started = time.perf_counter()
    deps.metrics.presses_received.inc()
    try:
        body = await request.body()  # at most MAX_BODY_BYTES (shared.body_limit)
        signature = request.headers.get("x-signature")
        device = presses_service.authenticate(
            devices=deps.devices,
            device_id=request.headers.get("x-device-id"),
            timestamp=request.headers.get("x-timestamp"),
            signature=signature,
            body=body,
            now=time.time(),
            window_s=deps.signature_window_s,
        )
        press_request = parse_body(PressRequest, body)
        presses_service.authorize_press(device, press_request)
        presses_service.admit(deps=deps, device=device, now_monotonic=time.monotonic())
        now = utcnow()
        assert signature is not None
        accepted = await presses_service.accept_press(
            deps=deps, request=press_request, now=now, signature=signature
        )
        if deps.supervision is not None:  # a press is a proof of life
            supervision_service.heard_press(
                supervision=deps.supervision,
                device_id=device.device_id,
                signed_at=int(request.headers["x-timestamp"]),  # verified by authenticate
                now=now,
            )
    except Rejected as exc:
        return _rejected(deps, exc)
    except RequestValidationError:
        deps.metrics.presses_rejected.labels("invalid_body").inc()
        raise
    deps.metrics.ingress_seconds.observe(time.perf_counter() - started)
    log.info(
        "press accepted",
        extra={
            "alarm_id": str(accepted.alarm_id),
            "duplicate": accepted.duplicate,
            "school_id": press_request.school_id,
            "device_id": device.device_id,
        },
    )
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


def _rejected(deps: Deps, exc: Rejected) -> JSONResponse:
    status = REJECTION_STATUS[type(exc)]
    deps.metrics.presses_rejected.labels(exc.reason).inc()
    log.warning("press rejected", extra={"reason": exc.reason, "status": status})
    retry_after = exc.retry_after if isinstance(exc, RateLimited) else 0
    return JSONResponse(
        {"detail": exc.detail, "reason": exc.reason},
        status_code=status,
        headers={"Retry-After": str(retry_after)} if retry_after else None,
    )


# --- reads ---------------------------------------------------------------------------------


@router.get("/v1/alarms", response_model=list[AlarmOut], summary="Alarms, newest first")
async def list_alarms(
    deps: DepsDep,
    _: Reader,
    open: Annotated[bool, Query(description="only open alarms")] = False,
    state: AlarmState | None = None,
    school_id: Annotated[str | None, Query(max_length=64)] = None,
    township: Annotated[str | None, Query(max_length=64)] = None,
    kind: AlarmKind | None = None,
    since: Annotated[Moment | None, Query(description="raised at or after")] = None,
    until: Annotated[Moment | None, Query(description="raised before")] = None,
    include_tests: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AlarmOut]:
    query = AlarmFilter(
        open_only=open,
        state=state,
        school_id=school_id,
        township=township,
        kind=kind,
        since=since,
        until=until,
        include_tests=include_tests,
        limit=limit,
    )
    alarms = await service.find(deps=deps, query=query)
    return [AlarmOut.model_validate(a.model_dump()) for a in alarms]


@router.get(
    "/v1/alarms/{alarm_id}", response_model=AlarmDetail, summary="One alarm and its timeline"
)
async def get_alarm(alarm_id: uuid.UUID, deps: DepsDep, principal: Responder) -> AlarmDetail:
    alarm = await service.get(deps=deps, alarm_id=alarm_id)
    if alarm is None:
        raise HTTPException(404, "no such alarm")
    if principal.role == "unit" and alarm.assigned_unit != principal.sub:
        raise HTTPException(403, "a unit sees only the alarm it is assigned to")
    timeline = await deps.repo.timeline(alarm.alarm_id)
    return AlarmDetail.model_validate(alarm.model_dump() | {"timeline": timeline})


@router.get(
    "/v1/commands/{command_id}",
    response_model=CommandResult,
    summary="A command's result (a unit reads only its own commands')",
    responses={404: {"description": "no result (yet), or not this unit's command"}},
)
async def get_command(command_id: uuid.UUID, deps: DepsDep, principal: Responder) -> CommandResult:
    result = await deps.repo.result(command_id)
    if result is None or (principal.role == "unit" and result.actor != principal.sub):
        raise HTTPException(404, "no result (yet) for this command")
    return result


# --- commands ------------------------------------------------------------------------------


async def _command(
    deps: Deps,
    alarm_id: uuid.UUID,
    principal: Principal,
    action: str,
    body: CommandBody,
    **fields: str | None,
) -> JSONResponse:
    """200 applied, 409 refused by the state machine, 403 not this actor's to give, 202 not
    applied yet (poll its result)."""
    try:
        result = await commands_service.send(
            deps=deps,
            alarm_id=alarm_id,
            actor=principal.sub,
            role=principal.role,
            action=action,
            command_id=body.command_id,
            reason=body.reason,
            wait_s=COMMAND_WAIT_S,
            **fields,
        )
    except NoSuchAlarm:
        raise HTTPException(404, "no such alarm") from None
    status = {"applied": 200, "refused": 409, "forbidden": 403}.get(result.status, 202)
    return JSONResponse(result.model_dump(mode="json"), status_code=status)


COMMAND_RESPONSES: dict[int | str, dict[str, str]] = {
    200: {"description": "applied; the body is the command's result"},
    202: {"description": "not applied yet; poll GET /v1/commands/{command_id}"},
    403: {"description": "this actor may not give this command"},
    404: {"description": "no such alarm"},
    409: {"description": "refused by the state machine; `reason` says why"},
}


@router.post("/v1/alarms/{alarm_id}/acknowledge", responses=COMMAND_RESPONSES)
async def acknowledge(
    alarm_id: uuid.UUID, deps: DepsDep, principal: Dispatcher, body: CommandBody | None = None
) -> JSONResponse:
    return await _command(deps, alarm_id, principal, "acknowledge", body or CommandBody())


@router.post("/v1/alarms/{alarm_id}/assign", responses=COMMAND_RESPONSES)
async def assign(
    alarm_id: uuid.UUID, deps: DepsDep, principal: Dispatcher, body: AssignBody
) -> JSONResponse:
    if deps.county.unit(body.unit_id) is None:
        raise InvalidInput([field_error("unit_id", f"unknown unit {body.unit_id}")])
    return await _command(deps, alarm_id, principal, "assign", body, unit_id=body.unit_id)


@router.post("/v1/alarms/{alarm_id}/en-route", responses=COMMAND_RESPONSES)
async def en_route(
    alarm_id: uuid.UUID, deps: DepsDep, principal: Responder, body: CommandBody | None = None
) -> JSONResponse:
    return await _command(deps, alarm_id, principal, "en_route", body or CommandBody())


@router.post("/v1/alarms/{alarm_id}/on-scene", responses=COMMAND_RESPONSES)
async def on_scene(
    alarm_id: uuid.UUID, deps: DepsDep, principal: Responder, body: CommandBody | None = None
) -> JSONResponse:
    return await _command(deps, alarm_id, principal, "on_scene", body or CommandBody())


@router.post("/v1/alarms/{alarm_id}/resolve", responses=COMMAND_RESPONSES)
async def resolve(
    alarm_id: uuid.UUID, deps: DepsDep, principal: Responder, body: ResolveBody
) -> JSONResponse:
    return await _command(deps, alarm_id, principal, "resolve", body, outcome=body.outcome)


@router.post("/v1/alarms/{alarm_id}/cancel", responses=COMMAND_RESPONSES)
async def cancel(
    alarm_id: uuid.UUID, deps: DepsDep, principal: Dispatcher, body: CancelBody
) -> JSONResponse:
    return await _command(deps, alarm_id, principal, "cancel", body, outcome=body.outcome)
