"""Domain errors every service raises the same way."""

from __future__ import annotations

from typing import TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class InvalidInput(ValueError):
    """Input that can never be true; carries FastAPI-style error entries naming each field,
    answered as a 422 like FastAPI's own validation errors (shared.web installs the handler)."""

    def __init__(self, errors: list[dict[str, object]]) -> None:
        super().__init__("; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in errors))  # type: ignore[index]
        self.errors = errors


def field_error(name: str, message: str) -> dict[str, object]:
    """One error entry naming a body field."""
    return {"loc": ["body", name], "msg": message, "type": "value_error"}


def query_error(name: str, message: str) -> dict[str, object]:
    """One error entry naming a query parameter."""
    return {"loc": ["query", name], "msg": message, "type": "value_error"}


def invalid_query(name: str, message: str) -> InvalidInput:
    return InvalidInput([query_error(name, message)])


def body_errors(exc: ValidationError) -> list[dict[str, object]]:
    """A request body's validation errors as FastAPI names them (under `body`), without the
    input itself (it may hold what should not be echoed or logged)."""
    return [
        {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def parse_body(model: type[M], body: bytes) -> M:
    """A signed request's body as `model` (parsed here: the signature covers the raw bytes),
    or FastAPI's 422 naming every invalid field."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(body_errors(exc)) from exc
