"""HTTP API of the notifications service: the dispatcher feed and its live stream (SSE); a
unit's orders, their live stream (SSE) and acknowledgement."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ValidationError

from services.notifications import service, sse
from services.notifications.models import (
    ConsoleMap,
    DeviceMessage,
    Feed,
    FeedItem,
    MapSchool,
    MapUnit,
    Order,
)
from services.notifications.service import Deps, OrderRefused
from shared.auth import Principal, acting_as, require_role, require_role_on_stream
from shared.commands import AssignBody, CancelBody, CommandBody, ResolveBody
from shared.errors import InvalidInput, body_errors, field_error
from shared.events import AlarmCommand, utcnow
from shared.inputs import Moment
from shared.signing import DeviceAuthError, verify_device
from shared.web import ResourceId

router = APIRouter(tags=["dispatcher"])
units_router = APIRouter(tags=["units"])

CONSOLE = Path(__file__).parent / "static" / "console.html"
TERMINAL = CONSOLE.parent / "terminal.html"
STREAM_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
    422: {"description": "`Last-Event-ID` or `last_event_id` is not a log position"},
    429: {"description": "this user holds MAX_STREAMS_PER_USER live streams here already"},
    503: {"description": "this instance is still reading the log; retry"},
}
REPLAY_LIMIT = 1000


async def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Dispatcher = Annotated[Principal, Depends(require_role("dispatcher", "supervisor", "admin"))]
UnitOrDispatcher = Annotated[
    Principal, Depends(require_role("unit", "dispatcher", "supervisor", "admin"))
]
# streams also take the token as ?access_token= (EventSource cannot set headers)
DispatcherOnStream = Annotated[
    Principal, Depends(require_role_on_stream("dispatcher", "supervisor", "admin"))
]
UnitOrDispatcherOnStream = Annotated[
    Principal, Depends(require_role_on_stream("unit", "dispatcher", "supervisor", "admin"))
]
UnitId = ResourceId


@router.get("/console", include_in_schema=False)
async def console() -> FileResponse:
    """The dispatcher's live page; it signs in with a dispatcher token (no data without one)."""
    return FileResponse(CONSOLE, media_type="text/html; charset=utf-8")


@router.get("/terminal", include_in_schema=False)
async def terminal() -> FileResponse:
    """The unit terminal, a page for the officers' phones; it signs in with the unit's id. Its
    calls go to patrols and alarms too: it is served behind the proxy (one origin)."""
    return FileResponse(TERMINAL, media_type="text/html; charset=utf-8")


VENDORED = {  # the console's map library (make web-vendor): served by name, nothing else
    "leaflet.js": "text/javascript; charset=utf-8",
    "leaflet.css": "text/css; charset=utf-8",
}


@router.get("/vendor/leaflet/{name}", include_in_schema=False)
async def vendored(name: str) -> FileResponse:
    if name not in VENDORED:
        raise HTTPException(404, "no such file")
    return FileResponse(CONSOLE.parent / "vendor" / "leaflet" / name, media_type=VENDORED[name])


@router.get(
    "/v1/dispatcher/feed",
    response_model=list[FeedItem],
    summary="The stored feed after a position: alarms' entries and guard-post gaps",
)
async def feed(
    deps: DepsDep,
    _: Dispatcher,
    after: Annotated[int, Query(ge=0, le=sse.MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=REPLAY_LIMIT)] = 100,
) -> list[Feed]:
    return await deps.repo.feed_after(after, limit=limit)


@router.get(
    "/v1/dispatcher/stream",
    summary="Live stream of the dispatcher feed (Server-Sent Events)",
    description="Each event: `id` = the entry's position in the feed log (the same on every "
    "instance), `event` = alarm state, `data` = the feed entry. Resume after a disconnect, on "
    "any instance, with the `Last-Event-ID` header (or `last_event_id`); `last_event_id=0` "
    "replays the feed as far as it is kept. Without either, the stream starts live and misses "
    "nothing after it opened. A position older than what is kept gets an `event: reset` (its "
    "`id` the current position): reload the feed (`GET /v1/dispatcher/feed`), then read on. "
    "EventSource cannot send headers: the token may come as `access_token`.",
    response_class=StreamingResponse,
    responses=STREAM_RESPONSES,
)
async def stream(
    request: Request,
    deps: DepsDep,
    principal: DispatcherOnStream,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[int | None, Query(ge=0, le=sse.MAX_POSITION)] = None,
) -> StreamingResponse:
    tail = sse.serving(request.app.state.feed_tail)
    resume_from = sse.resume_from(last_event_id_header, last_event_id)
    slot = sse.stream_slot(request, principal)
    return sse.sse_response(*sse.events(deps, tail, None, resume_from, None), slot)


@units_router.get(
    "/v1/units/{unit_id}/orders",
    response_model=list[Order],
    summary="A unit's orders after a sequence number, oldest first",
    description="`latest=true`: the newest `limit` orders instead (still oldest first), for a "
    "terminal that starts without a position of its own.",
)
async def unit_orders(
    unit_id: UnitId,
    deps: DepsDep,
    principal: UnitOrDispatcher,
    after: Annotated[int, Query(ge=0, le=sse.MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=REPLAY_LIMIT)] = 100,
    latest: bool = False,
) -> list[Order]:
    acting_as(principal, unit_id)
    if latest:
        return await deps.repo.latest_orders(unit_id, limit=limit)
    return await deps.repo.orders_after(unit_id, after, limit=limit)


@units_router.get(
    "/v1/units/{unit_id}/orders/stream",
    summary="Live stream of a unit's orders (Server-Sent Events)",
    description="Each event: `id` = the order's position in the orders log (the same on every "
    "instance), `event` = `order`, `data` = the order. Resume on any instance with "
    "`Last-Event-ID` (or `last_event_id`; 0 replays every order kept). Without either, the "
    "stream starts with the unit's orders still waiting for its acknowledgement. A position "
    "older than what is kept gets an `event: reset`: reload `GET /v1/units/{unit_id}/orders`. "
    "An order written out to the unit becomes `delivered`.",
    response_class=StreamingResponse,
    responses=STREAM_RESPONSES,
)
async def unit_order_stream(
    request: Request,
    unit_id: UnitId,
    deps: DepsDep,
    principal: UnitOrDispatcherOnStream,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[int | None, Query(ge=0, le=sse.MAX_POSITION)] = None,
) -> StreamingResponse:
    acting_as(principal, unit_id)
    tail = sse.serving(request.app.state.orders_tail)
    resume_from = sse.resume_from(last_event_id_header, last_event_id)
    waiting: list[Order] = []
    if resume_from is None:
        kept = tail.kept(unit_id)
        states = await deps.repo.order_states([o.order_id for o in kept])
        waiting = [o for o in kept if states.get(o.order_id) in {"sent", "delivered"}]

    async def delivered(order: Order) -> None:
        """Written out to the unit itself (not to an onlooker). Shielded: a client that hangs
        up right after reading would otherwise cancel the record of what it was sent."""
        if principal.role == "unit":
            await asyncio.shield(service.mark_delivered(deps=deps, order=order))

    slot = sse.stream_slot(request, principal)
    return sse.sse_response(*sse.events(deps, tail, unit_id, resume_from, delivered, waiting), slot)


@units_router.post(
    "/v1/units/{unit_id}/orders/{order_id}/ack",
    response_model=Order,
    summary="The unit takes its order (again: the same answer)",
    responses={
        403: {"description": "another unit's order"},
        404: {"description": "no such order for this unit"},
        409: {"description": "the order was passed over or closed meanwhile"},
    },
)
async def acknowledge_order(
    unit_id: UnitId, order_id: uuid.UUID, deps: DepsDep, principal: UnitOrDispatcher
) -> Order:
    if principal.role != "unit" or principal.sub != unit_id:
        raise HTTPException(403, "only the unit itself acknowledges its order")
    try:
        return await service.acknowledge(
            deps=deps, unit_id=unit_id, order_id=order_id, now=utcnow()
        )
    except LookupError as exc:
        raise HTTPException(404, f"no order {order_id} for unit {unit_id}") from exc
    except OrderRefused as exc:
        raise HTTPException(409, str(exc)) from exc


devices_router = APIRouter(tags=["devices"])


@devices_router.get(
    "/v1/devices/{device_id}/messages",
    response_model=list[DeviceMessage],
    summary="Messages for an alarm button ('help is on the way'), shown without a sound",
    description="Signed like a press (DESIGN §5.1) over an empty body: `X-Device-Id`, "
    "`X-Timestamp`, `X-Signature` = hex HMAC-SHA256(device secret, `<X-Timestamp>.`). "
    "`since` (RFC 3339, default: the last hour) bounds the answer.",
    responses={401: {"description": "the request does not prove its device"}},
)
async def device_messages(
    device_id: UnitId,
    deps: DepsDep,
    x_device_id: Annotated[str | None, Header()] = None,
    x_timestamp: Annotated[str | None, Header()] = None,
    x_signature: Annotated[str | None, Header()] = None,
    since: Annotated[Moment | None, Query()] = None,
) -> list[DeviceMessage]:
    try:
        verified = verify_device(
            deps.device_keys.get,
            device_id=x_device_id,
            timestamp=x_timestamp,
            signature=x_signature,
            body=b"",
            now=time.time(),
            window_s=deps.signature_window_s,
        )
    except DeviceAuthError as exc:
        raise HTTPException(401, exc.message) from exc
    if verified != device_id:
        raise HTTPException(403, "a device reads only its own messages")
    start = since or utcnow() - timedelta(hours=1)
    return await deps.repo.device_messages(device_id, since=start)


console_router = APIRouter(tags=["console"])
COMMAND_ACTIONS = Literal["acknowledge", "assign", "resolve", "cancel"]


@console_router.get(
    "/v1/dispatcher/map", response_model=ConsoleMap, summary="Schools and units for the map"
)
async def console_map(deps: DepsDep, _: Dispatcher) -> ConsoleMap:
    schools = deps.county.schools if deps.county else []
    base = deps.base_map
    return ConsoleMap(
        timezone=deps.county.timezone if deps.county else "Asia/Shanghai",
        townships=base.townships,
        points=base.points,
        tiles=base.tiles,
        schools=[MapSchool.model_validate(s.model_dump()) for s in schools],
        units=[
            MapUnit(
                unit_id=u.unit_id, lat=u.lat, lon=u.lon, recorded_at=u.recorded_at, status=u.status
            )
            for u in deps.board.units()
            if u.lat is not None and u.lon is not None and u.recorded_at is not None
        ],
    )


COMMAND_BODIES: dict[str, type[CommandBody]] = {
    "acknowledge": CommandBody,
    "assign": AssignBody,
    "resolve": ResolveBody,
    "cancel": CancelBody,
}
MAX_COMMAND_BYTES = 4096


class CommandSent(BaseModel):
    command_id: uuid.UUID
    status: Literal["sent"] = "sent"


@console_router.post(
    "/v1/dispatcher/alarms/{alarm_id}/{action}",
    status_code=202,
    response_model=CommandSent,
    summary="A dispatcher's command, sent to the alarms service (the single writer) on the bus",
    description="The body is that of the alarms service's `POST /v1/alarms/{alarm_id}/{action}`. "
    "The command goes on `alarms.commands` (one hop); its outcome arrives on the dispatcher "
    "stream: the alarm's next entry carries the `command_id`, or an entry with `change` "
    "`refused` gives the reason. Send the same `command_id` again to retry: it is applied once.",
    responses={
        404: {"description": "no such alarm on the feed"},
        413: {"description": "body too large"},
        422: {"description": "invalid body, naming the fields"},
    },
)
async def console_command(
    request: Request,
    alarm_id: uuid.UUID,
    action: COMMAND_ACTIONS,
    deps: DepsDep,
    principal: Dispatcher,
) -> CommandSent:
    body = await _command_body(request, action)
    if isinstance(body, AssignBody) and deps.county and deps.county.unit(body.unit_id) is None:
        raise InvalidInput([field_error("unit_id", f"unknown unit {body.unit_id}")])
    if await deps.repo.latest_feed_entry(alarm_id) is None:
        raise HTTPException(404, f"no alarm {alarm_id} on the feed")
    command = AlarmCommand(
        command_id=body.command_id or uuid.uuid4(),
        alarm_id=alarm_id,
        action=action,
        actor=principal.sub,
        role=principal.role,
        unit_id=getattr(body, "unit_id", None),
        outcome=getattr(body, "outcome", None),
        reason=body.reason,
    )
    await deps.publisher.publish(deps.topics.alarms_commands, str(alarm_id), command)
    return CommandSent(command_id=command.command_id)


async def _command_body(request: Request, action: str) -> CommandBody:
    raw = await request.body()
    if len(raw) > MAX_COMMAND_BYTES:
        raise HTTPException(413, f"command body over {MAX_COMMAND_BYTES} bytes")
    try:
        return COMMAND_BODIES[action].model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise InvalidInput(body_errors(exc)) from exc
