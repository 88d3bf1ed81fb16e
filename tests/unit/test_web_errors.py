"""How every service answers failures of what it stands on: busy or unreachable → 503."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pymongo.errors import AutoReconnect, OperationFailure

from shared.web import RETRY_AFTER_S, add_error_handlers


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    add_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


async def get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/boom")


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("connection reset"),
        OperationFailure("operation exceeded time limit", code=262),
        OperationFailure("interrupted due to repl state change", code=11602),
    ],
    ids=["unreachable", "time_limit", "election"],
)
async def test_a_busy_or_unreachable_database_is_503_with_retry_after(error: Exception) -> None:
    answer = await get(app_raising(error))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_S)
    assert "retry" in answer.json()["detail"]


async def test_any_other_database_error_stays_a_server_error() -> None:
    answer = await get(app_raising(OperationFailure("unknown operator $foo", code=2)))
    assert answer.status_code == 500
