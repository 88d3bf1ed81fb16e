"""Reading a SafeCampus live stream as a client does: the `data:` of each event."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


async def stream_data(client: httpx.AsyncClient, url: str, token: str) -> AsyncIterator[str]:
    """The JSON text of every event's `data:` line, as long as the stream stays open."""
    headers = {"Authorization": f"Bearer {token}"}
    async with client.stream("GET", url, headers=headers, timeout=None) as events:
        async for line in events.aiter_lines():
            if line.startswith("data:"):
                yield line[5:]
