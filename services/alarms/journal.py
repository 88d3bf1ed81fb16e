"""The press journal: where ingress durably records presses while the broker is unreachable.

An append-only file of JSON lines, fsync'd before the press is answered 202. The forwarder
publishes its entries in order once the broker is back, then empties it. Forwarding an entry
twice is harmless (the alarm derives from press_id); losing one is not, so the file is only
emptied after every entry in it was acknowledged by the broker.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from shared.events import AlarmPressed


class PressJournal:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "presses.jsonl"
        self._lock = asyncio.Lock()
        self._count = len(self._read())

    @property
    def backlog(self) -> int:
        """Entries not yet forwarded."""
        return self._count

    async def append(self, event: AlarmPressed) -> None:
        """Durable when this returns: written, flushed and fsync'd (file and, when new, folder)."""
        async with self._lock:
            await asyncio.to_thread(self._append_sync, event.model_dump_json())
            self._count += 1

    def _append_sync(self, line: str) -> None:
        created = not self.path.exists()
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def _read(self) -> list[AlarmPressed]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        # A torn last line (crash mid-write) was never answered 202: skip it.
        events = []
        for line in lines:
            try:
                events.append(AlarmPressed.model_validate_json(line))
            except ValueError:
                continue
        return events

    async def forward(self, send: Callable[[AlarmPressed], Awaitable[None]]) -> int:
        """Send every entry in order; empty the journal only when all were sent. Appends wait
        meanwhile, so nothing lands behind the truncation. Returns how many were sent."""
        async with self._lock:
            events = await asyncio.to_thread(self._read)
            for event in events:
                await send(event)
            await asyncio.to_thread(self._truncate)
            self._count = 0
            return len(events)

    def _truncate(self) -> None:
        with self.path.open("w", encoding="utf-8") as fh:
            fh.flush()
            os.fsync(fh.fileno())
