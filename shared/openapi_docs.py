"""What FastAPI does not write into the OpenAPI documents by itself: the error answers every
route may give (a client, and the fuzz suite, finds every status a route can answer documented,
with its body), and the body schema of a route that reads its body itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

WRITES = frozenset({"POST", "PUT", "PATCH"})


class Problem(BaseModel):
    """An error answer: what went wrong, in words."""

    detail: str


def _answer(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem}


UNAVAILABLE = _answer("the broker or the database is unreachable or busy; retry (Retry-After)")
UNREADABLE = _answer("the body is not JSON text")
TOO_LARGE = _answer("the body is over MAX_BODY_BYTES")
UNAUTHENTICATED = _answer("no valid bearer token")
FORBIDDEN = _answer("this role (or this unit) may not do this")
NOT_FOUND = _answer("no such resource")


def document_errors(router: APIRouter) -> None:
    """Add, to every route's documented answers, the errors it may give that it does not
    document itself. Before the router is included in its app."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/v1/"):
            continue
        found: dict[int | str, dict[str, Any]] = {503: UNAVAILABLE}
        if (route.methods or set()) & WRITES:
            found |= {400: UNREADABLE, 413: TOO_LARGE}
        if _authenticated(route.dependant):
            found |= {401: UNAUTHENTICATED, 403: FORBIDDEN}
        if "{" in route.path:
            found[404] = NOT_FOUND
        for status, answer in found.items():
            if status not in route.responses and str(status) not in route.responses:
                route.responses[status] = answer


def _authenticated(dependant: Dependant) -> bool:
    """True when a bearer-token check (shared.auth) is among the route's dependencies."""
    return any("require_role" in getattr(d.call, "__qualname__", "") for d in _walk(dependant))


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` written in place: a route that declares its
    body through `openapi_extra` cannot point into `$defs`, which `#/...` would resolve from
    the document's root, where there are none."""
    schema = model.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
