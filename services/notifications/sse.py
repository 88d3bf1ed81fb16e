"""Server-Sent Events of the feed and the orders, as every notifications instance serves
them from its tails: a slot per stream, resuming after a position, `reset` when that position
is no longer kept, keepalives, and the end of the subscription with the response."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from fastapi import HTTPException, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from services.notifications.hub import Subscription
from services.notifications.models import Feed, Order
from services.notifications.service import Deps
from services.notifications.streams import Tail
from shared.auth import Principal
from shared.errors import InvalidInput
from shared.ratelimit import HeldSlots

KEEPALIVE_S = 15.0
RETRY_STREAM_S = 5
MAX_POSITION = 2**63 - 1  # a log position, like a Kafka offset, is a signed 64-bit number
S = TypeVar("S", Feed, Order)


def stream_slot(request: Request, principal: Principal) -> Callable[[], None]:
    """Hold one of the user's stream slots (429 when all are held); returns its release."""
    slots: HeldSlots = request.app.state.stream_slots
    key = f"{principal.role}:{principal.sub}"
    if not slots.acquire(key):
        raise HTTPException(
            429,
            f"{slots.limit} live streams are open for this user on this instance; close one",
            headers={"Retry-After": str(RETRY_STREAM_S)},
        )
    return lambda: slots.release(key)


def serving(tail: Tail[S]) -> Tail[S]:
    """The instance's tail of a log, once it has read what was there when it started."""
    if not tail.caught_up.is_set():
        raise HTTPException(
            503, "this instance is still reading the log; retry", headers={"Retry-After": "1"}
        )
    return tail


def resume_from(header: str | None, query: int | None) -> int | None:
    if header is None:
        return query
    if not header.isascii() or not header.isdigit() or int(header) > MAX_POSITION:
        raise InvalidInput(
            [
                {
                    "loc": ["header", "Last-Event-ID"],
                    "msg": "must be a log position (a whole number)",
                    "type": "value_error",
                }
            ]
        )
    return int(header)


class _ClosingStream(StreamingResponse):
    """A stream that runs its `on_close` callbacks when it ends, however it ends: also when
    the client was gone before its first byte (its generator's own `finally` never runs)."""

    def __init__(self, events: AsyncIterator[str], on_close: list[Callable[[], None]]) -> None:
        super().__init__(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            for close in self._on_close:
                close()


def sse_response(events: AsyncIterator[str], *on_close: Callable[[], None]) -> StreamingResponse:
    return _ClosingStream(events, list(on_close))


def _format_reset(position: int, reason: str) -> str:
    data = json.dumps({"position": position, "reason": reason})
    return f"id: {position}\nevent: reset\ndata: {data}\n\n"


def events(
    deps: Deps,
    tail: Tail[S],
    key: str | None,
    resume_from: int | None,
    on_sent: Callable[[S], Awaitable[None]] | None,
    first: list[S] | None = None,
) -> tuple[AsyncIterator[str], Callable[[], None]]:
    """The kept items after `resume_from` (None: `first`, or nothing), then live items; never
    one twice. Subscribed here, when the request is answered, before the kept items are read
    and with no wait in between: nothing falls between the two, and a stream opened live
    misses nothing after it was opened. Returned with the subscription's end."""
    subscription = tail.subscribe(key)
    reset: str | None = None
    if resume_from is None:
        sent, backlog = tail.position(key), first or []
    else:
        kept = tail.since(key, resume_from)
        if kept is None:
            sent, backlog = tail.position(key), []
            reset = _format_reset(sent, "position no longer kept: reload, then read on")
        else:
            sent, backlog = resume_from, kept
    events = _emit(deps, tail, subscription, sent, [reset] if reset else [], backlog, on_sent)
    return events, lambda: tail.unsubscribe(subscription)


async def _emit(
    deps: Deps,
    tail: Tail[S],
    subscription: Subscription[S],
    sent: int,
    preamble: list[str],
    backlog: list[S],
    on_sent: Callable[[S], Awaitable[None]] | None,
) -> AsyncIterator[str]:
    deps.metrics.stream_clients.inc()
    try:
        yield "retry: 2000\n\n"
        for line in preamble:
            yield line
        for item in backlog:
            yield tail.frame(item)
            sent = max(sent, item.seq or 0)
            if on_sent is not None:
                await on_sent(item)
        while not subscription.overflowed:
            try:  # not wait_for: on 3.11 it makes a task per item and client
                async with asyncio.timeout(KEEPALIVE_S):
                    item = await subscription.queue.get()
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if (item.seq or 0) > sent:
                yield tail.frame(item)
                sent = item.seq or 0
                if on_sent is not None:
                    await on_sent(item)
    finally:  # the subscription ends with the response (_ClosingStream)
        deps.metrics.stream_clients.dec()
