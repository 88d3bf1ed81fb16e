"""HTTP API of the alarms service: button ingress (contract §5.1) and alarm reads."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.alarms import service
from services.alarms.models import Alarm, PressAccepted, PressRequest
from services.alarms.service import Deps, Rejected
from shared.auth import Principal, require_role
from shared.events import utcnow

log = logging.getLogger(__name__)

router = APIRouter(tags=["alarms"])

SIGNATURE_HEADERS = {
    "X-Device-Id": "provisioned device id",
    "X-Timestamp": "Unix seconds; within 300 s of the server clock",
    "X-Signature": 'lowercase hex HMAC-SHA256(device secret, "<X-Timestamp>." + raw body)',
}


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Reader = Annotated[Principal, Depends(require_role("dispatcher", "supervisor", "admin"))]


@router.post(
    "/v1/alarms",
    status_code=202,
    response_model=PressAccepted,
    summary="A button press (signed by the device)",
    description="Accepted (202) only once durably recorded on the broker. "
    "The same press_id again answers 202 with the same alarm_id and duplicate=true. "
    "Headers: " + "; ".join(f"{k}: {v}" for k, v in SIGNATURE_HEADERS.items()),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PressRequest.model_json_schema()}},
        }
    },
    responses={
        401: {"description": "bad/missing signature, unknown device, stale timestamp"},
        403: {"description": "device pressing for another school"},
        409: {"description": "press_id already used by another device"},
        413: {"description": "body too large"},
        422: {"description": "invalid body; names the fields"},
    },
)
async def press(request: Request, deps: DepsDep) -> JSONResponse:
    started = time.perf_counter()
    deps.metrics.presses_received.inc()
    try:
        body = await _read_body(request)
        device = service.authenticate(
            devices=deps.devices,
            device_id=request.headers.get("x-device-id"),
            timestamp=request.headers.get("x-timestamp"),
            signature=request.headers.get("x-signature"),
            body=body,
            now=time.time(),
            window_s=deps.signature_window_s,
        )
        press_request = _parse(body)
        service.authorize_press(device, press_request)
        accepted = await service.accept_press(deps=deps, request=press_request, now=utcnow())
    except Rejected as exc:
        deps.metrics.presses_rejected.labels(exc.reason).inc()
        log.warning("press rejected", extra={"reason": exc.reason, "status": exc.status})
        return JSONResponse({"detail": exc.detail, "reason": exc.reason}, status_code=exc.status)
    except RequestValidationError:
        deps.metrics.presses_rejected.labels("invalid_body").inc()
        raise
    deps.metrics.presses_accepted.labels(str(accepted.duplicate).lower()).inc()
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


async def _read_body(request: Request) -> bytes:
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Rejected(413, "too_large", f"body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Rejected(413, "too_large", f"body over {limit} bytes")
    return bytes(body)


def _parse(body: bytes) -> PressRequest:
    """The press, or FastAPI's 422 naming every invalid field."""
    try:
        return PressRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise RequestValidationError(errors) from exc


@router.get("/v1/alarms", response_model=list[Alarm], summary="Most recent alarms")
async def list_alarms(deps: DepsDep, _: Reader, limit: int = 50) -> list[Alarm]:
    if not 1 <= limit <= 500:
        raise HTTPException(422, "limit must be between 1 and 500")
    return await deps.repo.list_recent(limit=limit)


@router.get("/v1/alarms/{alarm_id}", response_model=Alarm, summary="One alarm")
async def get_alarm(alarm_id: uuid.UUID, deps: DepsDep, _: Reader) -> Alarm:
    alarm = await service.get(deps=deps, alarm_id=alarm_id)
    if alarm is None:
        raise HTTPException(404, "no such alarm")
    return alarm
