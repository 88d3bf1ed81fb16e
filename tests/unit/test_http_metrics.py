"""Request metrics and trace ids (shared/http_metrics.py) on a small app, in process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from prometheus_client import CollectorRegistry

from shared.http_metrics import HttpInstruments, HttpMetrics
from shared.observability import trace_id_var


def app_with_metrics(registry: CollectorRegistry) -> FastAPI:
    app = FastAPI()
    app.add_middleware(HttpMetrics, instruments=HttpInstruments.register(registry))

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, object]:
        return {"item": item_id, "trace": trace_id_var.get()}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            await asyncio.sleep(0.3)
            yield b"second\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("bug")

    return app


def requests(registry: CollectorRegistry, route: str, status: str) -> float | None:
    return registry.get_sample_value(
        "safecampus_http_requests_total", {"method": "GET", "route": route, "status": status}
    )


async def test_requests_are_counted_by_route_template_and_carry_their_request_id() -> None:
    registry = CollectorRegistry()
    transport = httpx.ASGITransport(app=app_with_metrics(registry), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        answer = await client.get("/items/7", headers={"x-request-id": "req-42"})
        assert answer.json() == {"item": 7, "trace": "req-42"}
        assert (await client.get("/items/x")).status_code == 422
        assert (await client.get("/nowhere")).status_code == 404
        assert (await client.get("/broken")).status_code == 500
    assert requests(registry, "/items/{item_id}", "200") == 1
    assert requests(registry, "/items/{item_id}", "422") == 1
    assert requests(registry, "<unmatched>", "404") == 1
    assert requests(registry, "/broken", "500") == 1
    assert trace_id_var.get() is None, "the request's trace id does not leak out"


async def test_a_stream_is_timed_until_it_starts_not_for_its_lifetime() -> None:
    registry = CollectorRegistry()
    transport = httpx.ASGITransport(app=app_with_metrics(registry))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        answer = await client.get("/stream")
    assert answer.text == "first\nsecond\n"
    seconds = registry.get_sample_value(
        "safecampus_http_request_duration_seconds_sum", {"method": "GET", "route": "/stream"}
    )
    assert seconds is not None and seconds < 0.25
    assert requests(registry, "/stream", "200") == 1


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
async def test_other_scopes_pass_through(scope_type: str) -> None:
    seen: list[str] = []

    async def inner(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(str(scope["type"]))

    middleware = HttpMetrics(inner, HttpInstruments.register(CollectorRegistry()))  # type: ignore[arg-type]
    await middleware({"type": scope_type}, None, None)  # type: ignore[arg-type]
    assert seen == [scope_type]
