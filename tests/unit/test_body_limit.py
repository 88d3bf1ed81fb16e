"""Request bodies are limited before anything reads or parses them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel

from shared.body_limit import BodyLimit

LIMIT = 4096


class Note(BaseModel):
    text: str


def app_with_limit() -> tuple[FastAPI, list[str]]:
    """A JSON route behind a token check, like every write route of the services."""
    app, ran = FastAPI(), []
    app.add_middleware(BodyLimit, limit=LIMIT)

    def token(authorization: Annotated[str | None, Header()] = None) -> None:
        if authorization != "Bearer ok":
            raise HTTPException(401, "no token")

    @app.post("/notes", dependencies=[Depends(token)])
    async def post_note(note: Note) -> dict[str, int]:
        ran.append(note.text)
        return {"length": len(note.text)}

    return app, ran


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_declared_body_over_the_limit_is_413_before_the_token_check() -> None:
    app, ran = app_with_limit()
    async with client(app) as http:
        answer = await http.post("/notes", json={"text": "x" * (LIMIT + 1)})
    assert answer.status_code == 413
    assert answer.json() == {"detail": f"request body over {LIMIT} bytes", "reason": "too_large"}
    assert ran == []


async def test_a_streamed_body_is_stopped_once_past_the_limit() -> None:
    app, ran = app_with_limit()
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(1000):  # 1 MiB in all, without a Content-Length
            sent.append(1)
            yield b"x" * 1024
        yield b'"}'

    async with client(app) as http:
        answer = await http.post("/notes", content=chunks(), headers={"Authorization": "Bearer ok"})
    assert answer.status_code == 413, answer.text
    assert "over 4096 bytes" in answer.json()["detail"]
    assert len(sent) <= LIMIT // 1024 + 2, "reading stopped at the limit"
    assert ran == []


async def test_a_body_within_the_limit_is_served() -> None:
    app, ran = app_with_limit()
    async with client(app) as http:
        answer = await http.post(
            "/notes", json={"text": "hello"}, headers={"Authorization": "Bearer ok"}
        )
    assert answer.status_code == 200 and ran == ["hello"]
