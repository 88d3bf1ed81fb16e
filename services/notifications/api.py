"""HTTP API of the notifications service: the dispatcher feed and its live stream (SSE)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, StreamingResponse

from services.notifications.models import FeedEntry
from services.notifications.service import Deps
from shared.auth import Principal, require_role

router = APIRouter(tags=["dispatcher"])

CONSOLE = Path(__file__).parent / "static" / "console.html"
KEEPALIVE_S = 15.0
REPLAY_LIMIT = 1000


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Dispatcher = Annotated[Principal, Depends(require_role("dispatcher", "supervisor", "admin"))]


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
    resume_from = last_event_id
    if last_event_id_header is not None:
        if not last_event_id_header.isdigit():
            raise HTTPException(422, "Last-Event-ID must be a feed sequence number")
        resume_from = int(last_event_id_header)
    if resume_from is None:
        resume_from = await deps.repo.last_seq()
    return StreamingResponse(
        _events(deps, resume_from),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _format(entry: FeedEntry) -> str:
    return f"id: {entry.seq}\nevent: {entry.state}\ndata: {entry.model_dump_json()}\n\n"


async def _events(deps: Deps, sent: int) -> AsyncIterator[str]:
    """Backlog from the database after `sent`, then live entries; never one twice."""
    subscription = deps.hub.subscribe()
    deps.metrics.stream_clients.inc()
    try:
        yield "retry: 2000\n\n"
        while True:
            backlog = await deps.repo.feed_after(sent, limit=REPLAY_LIMIT)
            for entry in backlog:
                yield _format(entry)
                sent = entry.seq
            if len(backlog) < REPLAY_LIMIT:
                break
        while not subscription.overflowed:
            try:
                entry = await asyncio.wait_for(subscription.queue.get(), timeout=KEEPALIVE_S)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if entry.seq > sent:
                yield _format(entry)
                sent = entry.seq
    finally:
        deps.hub.unsubscribe(subscription)
        deps.metrics.stream_clients.dec()
