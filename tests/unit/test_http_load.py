"""The bench's lean keep-alive client (tools/http_load.py) against a local HTTP server."""

from __future__ import annotations

import asyncio

import pytest

from tools.http_load import HttpError, KeepAliveConnection


async def serve(answers: list[bytes], close_after: int) -> tuple[asyncio.Server, list[bytes]]:
    """A server that answers each request with the next of `answers` and closes every
    connection after `close_after` requests (like uvicorn closing idle kept-alive ones)."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(close_after):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            received.append(head + await reader.readexactly(length))
            writer.write(answers.pop(0))
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), received


def answer(status: int, body: bytes) -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)


async def test_posts_on_one_connection_and_again_on_a_new_one_once_the_server_closed_it() -> None:
    server, received = await serve([answer(202, b"{}"), answer(400, b"bad")] * 2, close_after=1)
    port = server.sockets[0].getsockname()[1]
    connection = KeepAliveConnection(f"http://127.0.0.1:{port}")
    try:
        assert await connection.post("/v1/x", b'{"a":1}', {"Authorization": "Bearer t"}) == (
            202,
            b"{}",
        )
        await asyncio.sleep(0.05)  # the server has closed the connection meanwhile
        assert await connection.post("/v1/x", b"{}", {}) == (400, b"bad")
    finally:
        await connection.close()
        server.close()
    assert len(received) == 2
    assert received[0].startswith(b"POST /v1/x HTTP/1.1\r\n")
    assert b"Authorization: Bearer t\r\n" in received[0] and received[0].endswith(b'{"a":1}')


async def test_an_answer_without_content_length_is_an_error() -> None:
    server, _ = await serve([b"HTTP/1.1 200 OK\r\n\r\n"], close_after=1)
    port = server.sockets[0].getsockname()[1]
    connection = KeepAliveConnection(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(HttpError, match="without Content-Length"):
            await connection.post("/", b"{}", {})
    finally:
        server.close()


def test_only_plain_http_urls() -> None:
    with pytest.raises(ValueError):
        KeepAliveConnection("https://example.org")
