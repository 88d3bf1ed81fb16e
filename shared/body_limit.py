"""A limit on request bodies, enforced before anything reads or parses them.

Starlette and FastAPI read a body of any size into memory before the route runs, the token
check included; a few large uploads were enough to grow a service by hundreds of MiB. This
middleware refuses a declared `Content-Length` over the limit before reading a byte, and stops a
body sent without one (chunked) as soon as it passes the limit. A pure ASGI middleware rather
than a library: the few maintained ones buffer the body themselves or do not cover chunked
uploads.
"""

from __future__ import annotations

import json
import re

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DIGITS = re.compile(rb"[0-9]{1,20}")


def too_large(limit: int) -> dict[str, str]:
    return {"detail": f"request body over {limit} bytes", "reason": "too_large"}


class BodyLimit:
    """413 for a request body over `limit` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and DIGITS.fullmatch(declared) and int(declared) > self.limit:
            await _refuse(send, self.limit)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        """`receive` that raises a 413 once the body read so far passes the limit: the route
        reading it stops there, and FastAPI answers the HTTPException."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, detail=too_large(self.limit)["detail"])
            return message

        return counted


async def _refuse(send: Send, limit: int) -> None:
    """Answer without reading the body. The server discards what the client still sends of it
    (uvicorn drops a body that arrives after the response) rather than closing on it, which
    would reset the connection under a client still writing."""
    body = json.dumps(too_large(limit)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
