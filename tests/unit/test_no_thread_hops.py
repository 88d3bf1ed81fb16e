"""No request waits for FastAPI's thread pool: every endpoint and dependency is `async def`.

A plain `def` dependency (the services' `get_deps` were) runs on the thread pool for every
request: a hand-over to a worker thread and back, under the GIL: a large share of a busy
service's CPU (docs/benchmarks.md), on the press path too.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tests.helpers import EverySetting
from tools.export_specs import SERVICES


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (kept as such since FastAPI 0.16x)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def calls(dependant: Dependant) -> Iterator[object]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from calls(sub)


@pytest.mark.parametrize("service", SERVICES)
def test_every_endpoint_and_dependency_is_a_coroutine(service: str) -> None:
    module = __import__(f"services.{service}.main", fromlist=["create_app"])
    settings = EverySetting(jwt_secret="x" * 32, device_key_seed="test", pii_key="p" * 32)
    app = module.create_app(settings)
    routes = list(api_routes(app.routes))
    assert len(routes) > 3
    on_the_pool = {
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in calls(route.dependant)
        if not inspect.iscoroutinefunction(call)
        and not inspect.iscoroutinefunction(type(call).__call__)  # a callable instance
    }
    assert on_the_pool == set()
