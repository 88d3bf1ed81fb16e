"""Each unit's newest fix, written to the database lazily.

Patrols' `units` holds each unit's latest position: a cache of the durable position history.
Written for every position batch, those upserts were among the heaviest writes on the
database and slowed the alarm path's writes on this 2-core machine. Now each batch only
notes the newest fix of each unit here, and a background job writes them every
LATEST_FLUSH_S (5 s: what reads `units` without this process's notes, another instance or
the guard posts' two-minute freshness, can wait that long). Nothing is lost to a crash: the
history is stored before a batch is committed, and at start-up each unit is moved to its
newest fix in history. Readers in the same process see the pending fixes (`newest`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from shared.events import PositionReported

LATEST_FLUSH_S = 5.0


class PendingPositions:
    def __init__(self) -> None:
        self._pending: dict[str, PositionReported] = {}
        self._seen: dict[str, datetime] = {}  # newest fix time of each unit this process saw

    def add(self, fixes: Iterable[PositionReported]) -> int:
        """Note each unit's newest fix; returns how many fixes were older than a fix already
        seen for their unit (out of order)."""
        late = 0
        for fix in fixes:
            seen = self._seen.get(fix.unit_id)
            if seen is not None and fix.recorded_at < seen:
                late += 1
                continue
            self._seen[fix.unit_id] = fix.recorded_at
            self._pending[fix.unit_id] = fix
        return late

    def newest(self, unit_id: str) -> PositionReported | None:
        """The unit's fix not yet written, if any."""
        return self._pending.get(unit_id)

    async def flush(self, write: Callable[[list[PositionReported]], Awaitable[object]]) -> int:
        """Write what is pending; on failure it stays pending (unless a newer fix came)."""
        taken, self._pending = list(self._pending.values()), {}
        if not taken:
            return 0
        try:
            await write(taken)
        except BaseException:
            for fix in taken:
                self._pending.setdefault(fix.unit_id, fix)
            raise
        return len(taken)

    def __len__(self) -> int:
        return len(self._pending)
