"""A lean HTTP/1.1 client for background load: keep-alive connections, POST only.

The benchmark's background terminals share the two cores with the system they load; in the
county they are devices of their own. httpx spent about a fifth of a core on 100 requests a
second, CPU the services then missed. This client writes each request in one piece and reads
the status line, the headers and a Content-Length body, nothing more.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class HttpError(Exception):
    """The server answered in a way this client does not read (no Content-Length), or closed
    the connection; `before_answer`: before any byte of an answer."""

    def __init__(self, message: str, *, before_answer: bool = False) -> None:
        super().__init__(message)
        self.before_answer = before_answer


class KeepAliveConnection:
    """One persistent connection; one request at a time."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"plain http://host:port only, not {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """Status and body of the answer to a POST of `body` (JSON). A kept-alive connection
        the server closed meanwhile (uvicorn closes idle ones after 5 s) answers nothing:
        the request is sent once more on a new connection, as other clients do."""
        sent = {"Content-Type": "application/json"} | headers  # once, whoever names it
        head = "".join(f"{name}: {value}\r\n" for name, value in sent.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        reused = self._writer is not None
        try:
            return await self._exchange(request)
        except (HttpError, ConnectionError) as exc:
            if not reused or not getattr(exc, "before_answer", True):
                raise
        return await self._exchange(request)

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        self._writer.write(request)
        try:
            return await self._answer(self._reader)
        except BaseException:
            await self.close()  # the connection's state is unknown: a new one next time
            raise

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        status_line = await reader.readline()
        if not status_line:
            raise HttpError("connection closed before an answer", before_answer=True)
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        keep_alive = True
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection" and value.strip().lower() == b"close":
                keep_alive = False
        if length is None:
            raise HttpError(f"answer {status} without Content-Length")
        body = await reader.readexactly(length)
        if not keep_alive:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self._writer is not None:
            writer, self._writer, self._reader = self._writer, None, None
            writer.close()
