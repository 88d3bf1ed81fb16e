"""HTTP API of the notifications service: the dispatcher feed and its live stream (SSE); a
unit's orders, their live stream (SSE) and acknowledgement."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Protocol, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse

from services.notifications import service
from services.notifications.hub import Hub
from services.notifications.models import FeedEntry, Order
from services.notifications.service import Deps, OrderRefused
from shared.auth import Principal, require_role
from shared.events import utcnow

router = APIRouter(tags=["dispatcher"])
units_router = APIRouter(tags=["units"])

CONSOLE = Path(__file__).parent / "static" / "console.html"
KEEPALIVE_S = 15.0
REPLAY_LIMIT = 1000


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Dispatcher = Annotated[Principal, Depends(require_role("dispatcher", "supervisor", "admin"))]
UnitOrDispatcher = Annotated[
    Principal, Depends(require_role("unit", "dispatcher", "supervisor", "admin"))
]
UnitId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/console", include_in_schema=False)
async def console() -> FileResponse:
    """The dispatcher's live page; it signs in with a dispatcher token (no data without one)."""
    return FileResponse(CONSOLE, media_type="text/html; charset=utf-8")


@router.get("/v1/dispatcher/feed", response_model=list[FeedEntry], summary="Feed after a seq")
async def feed(
    deps: DepsDep,
    _: Dispatcher,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=REPLAY_LIMIT)] = 100,
) -> list[FeedEntry]:
    return await deps.repo.feed_after(after, limit=limit)


@router.get(
    "/v1/dispatcher/stream",
    summary="Live stream of the dispatcher feed (Server-Sent Events)",
    description="Each event: `id` = feed seq, `event` = alarm state, `data` = the feed entry. "
    "Resume after a disconnect with the `Last-Event-ID` header (or `last_event_id`); "
    "`last_event_id=0` replays the whole feed. Without either, the stream starts live. "
    "EventSource cannot send headers: the token may come as `access_token`.",
    response_class=StreamingResponse,
)
async def stream(
    request: Request,
    deps: DepsDep,
    _: Dispatcher,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    resume_from = _resume_from(last_event_id_header, last_event_id)
    if resume_from is None:
        resume_from = await deps.repo.last_seq()

    async def after(seq: int) -> list[FeedEntry]:
        return await deps.repo.feed_after(seq, limit=REPLAY_LIMIT)

    return _sse(_events(deps, deps.hub, None, after, resume_from, _format_feed, None))


def _resume_from(header: str | None, query: int | None) -> int | None:
    if header is None:
        return query
    if not header.isdigit():
        raise HTTPException(422, "Last-Event-ID must be a sequence number")
    return int(header)


def _sse(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _format_feed(entry: FeedEntry) -> str:
    return f"id: {entry.seq}\nevent: {entry.state}\ndata: {entry.model_dump_json()}\n\n"


def _format_order(order: Order) -> str:
    return f"id: {order.seq}\nevent: order\ndata: {order.model_dump_json()}\n\n"


class Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


S = TypeVar("S", bound=Sequenced)


async def _events(
    deps: Deps,
    hub: Hub[S],
    topic: str | None,
    after: Callable[[int], Awaitable[list[S]]],
    sent: int,
    format_item: Callable[[S], str],
    on_sent: Callable[[S], Awaitable[None]] | None,
) -> AsyncIterator[str]:
    """Backlog from the database after `sent`, then live items; never one twice."""
    subscription = hub.subscribe(topic)
    deps.metrics.stream_clients.inc()
    try:
        yield "retry: 2000\n\n"
        while True:
            backlog = await after(sent)
            for item in backlog:
                yield format_item(item)
                sent = item.seq
                if on_sent is not None:
                    await on_sent(item)
            if len(backlog) < REPLAY_LIMIT:
                break
        while not subscription.overflowed:
            try:
                item = await asyncio.wait_for(subscription.queue.get(), timeout=KEEPALIVE_S)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if item.seq > sent:
                yield format_item(item)
                sent = item.seq
                if on_sent is not None:
                    await on_sent(item)
    finally:
        hub.unsubscribe(subscription)
        deps.metrics.stream_clients.dec()


def _acting_as(principal: Principal, unit_id: str) -> None:
    """A unit acts only as itself."""
    if principal.role == "unit" and principal.sub != unit_id:
        raise HTTPException(403, "a unit may act only as itself")


@units_router.get(
    "/v1/units/{unit_id}/orders",
    response_model=list[Order],
    summary="A unit's orders after a sequence number, oldest first",
)
async def unit_orders(
    unit_id: UnitId,
    deps: DepsDep,
    principal: UnitOrDispatcher,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=REPLAY_LIMIT)] = 100,
) -> list[Order]:
    _acting_as(principal, unit_id)
    return await deps.repo.orders_after(unit_id, after, limit=limit)


@units_router.get(
    "/v1/units/{unit_id}/orders/stream",
    summary="Live stream of a unit's orders (Server-Sent Events)",
    description="Each event: `id` = order seq, `event` = `order`, `data` = the order. Resume "
    "with `Last-Event-ID` (or `last_event_id`; 0 replays every order). Without either, the "
    "stream starts with the unit's orders still waiting for its acknowledgement. An order "
    "written out to the unit becomes `delivered`.",
    response_class=StreamingResponse,
)
async def unit_order_stream(
    unit_id: UnitId,
    deps: DepsDep,
    principal: UnitOrDispatcher,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    _acting_as(principal, unit_id)
    resume_from = _resume_from(last_event_id_header, last_event_id)
    open_only = resume_from is None

    async def after(seq: int) -> list[Order]:
        orders = await deps.repo.orders_after(unit_id, seq, limit=REPLAY_LIMIT)
        return [o for o in orders if o.state in {"sent", "delivered"}] if open_only else orders

    async def delivered(order: Order) -> None:
        """Written out to the unit itself (not to an onlooker). Shielded: a client that hangs
        up right after reading would otherwise cancel the record of what it was sent."""
        if principal.role == "unit":
            await asyncio.shield(service.mark_delivered(deps=deps, order=order))

    return _sse(
        _events(deps, deps.orders_hub, unit_id, after, resume_from or 0, _format_order, delivered)
    )


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
