"""Request metrics and the trace id of every HTTP request, as a plain ASGI middleware.

Not Starlette's BaseHTTPMiddleware (`@app.middleware("http")`): that
one runs every request in a task of its own and passes each chunk of a response through a
memory channel, the orders and feed entries of the live streams included. This one only
watches the messages go by.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability import new_trace_id, trace_id_var

REQUEST_ID = b"x-request-id"


@dataclass(frozen=True)
class HttpInstruments:
    requests: Counter
    duration: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> HttpInstruments:
        return cls(
            requests=Counter(
                "safecampus_http_requests_total",
                "HTTP requests by route and status",
                ["method", "route", "status"],
                registry=registry,
            ),
            duration=Histogram(
                "safecampus_http_request_duration_seconds",
                "HTTP request duration, until the response starts (a stream's lifetime is not "
                "its duration)",
                ["method", "route"],
                registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            ),
        )


class HttpMetrics:
    """Counts each request by route template and status and times it until its response
    starts; the request's `x-request-id` (or a new id) is the trace id of its logs."""

    def __init__(self, app: ASGIApp, instruments: HttpInstruments) -> None:
        self._app = app
        self._instruments = instruments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = next((v for k, v in scope["headers"] if k == REQUEST_ID), None)
        token = trace_id_var.set(request_id.decode("latin-1") if request_id else new_trace_id())
        started = time.perf_counter()
        counted = False

        def count(status: int) -> None:
            nonlocal counted
            counted = True
            path = getattr(scope.get("route"), "path", "<unmatched>")
            self._instruments.requests.labels(scope["method"], path, str(status)).inc()
            self._instruments.duration.labels(scope["method"], path).observe(
                time.perf_counter() - started
            )

        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                count(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, watched_send)
        finally:
            if not counted:  # failed before any response: the server answers 500
                count(500)
            trace_id_var.reset(token)
