"""HTTP API of button supervision: signed heartbeats (contract DESIGN §5.4) and the devices'
health for dispatchers."""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.alarms import presses_service, supervision_service
from services.alarms.api import REJECTION_STATUS, SIGNATURE_HEADERS, DepsDep, Reader
from services.alarms.presses_service import NotAllowed, NotAuthenticated, Rejected
from services.alarms.supervision import DeviceHealth, HeartbeatAnswer, HeartbeatRequest
from services.alarms.supervision_service import StaleHeartbeat, Supervision
from shared.errors import parse_body
from shared.events import utcnow
from shared.openapi_docs import inline_schema

log = logging.getLogger(__name__)

router = APIRouter(tags=["devices"])

DeviceId = Annotated[str, Path(min_length=1, max_length=64)]


async def _supervision(request: Request) -> Supervision:
    supervision: Supervision | None = request.app.state.deps.supervision
    if supervision is None:
        raise HTTPException(404, "button supervision is not running here")
    return supervision


SupervisionDep = Annotated[Supervision, Depends(_supervision)]


@router.post(
    "/v1/devices/{device_id}/heartbeat",
    response_model=HeartbeatAnswer,
    summary="A device's heartbeat (signed by the device)",
    description="Answered once recorded, with the seconds until the next heartbeat. A device "
    "that neither beats nor presses within OFFLINE_AFTER_S is an `offline` trouble; a low "
    "battery and an open tamper switch are troubles at once; each ends with a restoral. "
    "Signed like a press: " + "; ".join(f"{k}: {v}" for k, v in SIGNATURE_HEADERS.items()),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(HeartbeatRequest)}},
        }
    },
    responses={
        401: {
            "description": "bad/missing signature, unknown device, stale timestamp, or "
            "older than a heartbeat already taken from this device"
        },
        403: {"description": "the path names another device than the signature"},
        413: {"description": "body too large"},
        422: {"description": "invalid body; names the fields"},
        503: {"description": "the database is unreachable; retry"},
    },
)
async def heartbeat(
    device_id: DeviceId, request: Request, deps: DepsDep, supervision: SupervisionDep
) -> JSONResponse:
    started = time.perf_counter()
    try:
        body = await request.body()  # at most MAX_BODY_BYTES (shared.body_limit)
        device = presses_service.authenticate(
            devices=deps.devices,
            device_id=request.headers.get("x-device-id"),
            timestamp=request.headers.get("x-timestamp"),
            signature=request.headers.get("x-signature"),
            body=body,
            now=time.time(),
            window_s=deps.signature_window_s,
        )
        if device.device_id != device_id:
            raise NotAllowed("device_mismatch", "the path names another device than X-Device-Id")
        beat = parse_body(HeartbeatRequest, body)
        next_in_s = await _record(supervision, device_id, beat, request)
    except Rejected as exc:
        supervision.metrics.heartbeats.labels(exc.reason).inc()
        log.warning("heartbeat refused", extra={"reason": exc.reason, "device_id": device_id})
        return JSONResponse(
            {"detail": exc.detail, "reason": exc.reason}, status_code=REJECTION_STATUS[type(exc)]
        )
    except RequestValidationError:
        supervision.metrics.heartbeats.labels("invalid_body").inc()
        raise
    supervision.metrics.heartbeats.labels("recorded").inc()
    supervision.metrics.heartbeat_seconds.observe(time.perf_counter() - started)
    return JSONResponse(HeartbeatAnswer(next_in_s=next_in_s).model_dump())


async def _record(
    supervision: Supervision, device_id: str, beat: HeartbeatRequest, request: Request
) -> int:
    try:
        return await supervision_service.heartbeat(
            supervision=supervision,
            device_id=device_id,
            request=beat,
            signed_at=int(request.headers["x-timestamp"]),  # verified by authenticate
            now=utcnow(),
        )
    except StaleHeartbeat as exc:
        raise NotAuthenticated("replayed_heartbeat", str(exc)) from exc


@router.get(
    "/v1/devices",
    response_model=list[DeviceHealth],
    response_model_exclude={"__all__": {"outbox", "version"}},
    summary="Supervised devices' health: the last heartbeat and open troubles",
)
async def list_devices(
    supervision: SupervisionDep,
    _: Reader,
    in_trouble: Annotated[bool, Query(description="only devices with an open trouble")] = True,
    school_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[DeviceHealth]:
    return await supervision_service.find(
        supervision=supervision, in_trouble=in_trouble, school_id=school_id, limit=limit
    )
