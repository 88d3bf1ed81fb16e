"""Sequence numbers drawn ahead of need, so that the alarm path does not wait for the counter.

The feed and the orders are numbered by stored counters (`$inc`, unique across instances):
streams resume after the last number a client saw. Drawing one cost a round trip on the way
from a raised alarm to the dispatchers and to the first unit, 6.5 ms p50 and 26 ms p99 under
load (docs/benchmarks.md). The pool keeps a few drawn numbers ready; the handler draws the
next ones once its own writes are done. A number drawn but never used (the process stops) is
a gap: readers resume on `>`, so a gap is skipped. Numbers go out in the order drawn.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from shared.bus import Afterwards

Draw = Callable[[str], Awaitable[int]]


class SequencePool:
    """Up to `ahead` numbers per counter drawn in advance. `take` hands out a ready one, or
    draws one itself; `top_up` draws the next ones in `afterwards`, once the caller's own
    writes are done (a draw under way slowed the feed entry's insert beside it: SecantusDB
    serves both on one process). A failed top-up is logged and counted by `afterwards`; the
    next `take` then draws on its own path. With `afterwards` None nothing is drawn ahead."""

    def __init__(self, afterwards: Afterwards | None = None, *, ahead: int = 4) -> None:
        self._afterwards = afterwards
        self._ahead = ahead if afterwards is not None else 0
        self._ready: dict[str, deque[int]] = {}
        self._drawing: dict[str, asyncio.Lock] = {}
        self._filling: set[str] = set()  # counters with a top-up under way: one is enough

    async def take(self, counter: str, draw: Draw) -> int:
        """The next number: without a wait (no await) when one is ready."""
        ready = self._ready.setdefault(counter, deque())
        if not ready:
            async with self._lock(counter):  # a top-up under way may bring one: wait for it
                if not ready:
                    ready.append(await draw(counter))
        return ready.popleft()

    async def top_up(self, counter: str, draw: Draw) -> None:
        if self._afterwards is None or counter in self._filling:
            return
        if self.ready(counter) < self._ahead:
            self._filling.add(counter)
            await self._afterwards.run(self._fill(counter, draw))

    def ready(self, counter: str) -> int:
        """How many numbers are drawn and waiting."""
        return len(self._ready.get(counter, ()))

    async def _fill(self, counter: str, draw: Draw) -> None:
        """Draw until `ahead` are ready. Every draw holds the counter's lock and appends what
        it drew, so the numbers wait (and go out) in ascending order."""
        ready = self._ready.setdefault(counter, deque())
        try:
            while len(ready) < self._ahead:
                async with self._lock(counter):
                    if len(ready) < self._ahead:
                        ready.append(await draw(counter))
        finally:
            self._filling.discard(counter)

    def _lock(self, counter: str) -> asyncio.Lock:
        return self._drawing.setdefault(counter, asyncio.Lock())


@dataclass(frozen=True)
class NumberedWrites:
    """A number is taken and its document stored (and pushed live) under a lock, so that
    within the process documents are stored in the order of their numbers: a stream resuming
    after the last number it saw then misses none, however many events are handled at once
    (the lifecycle consumer handles its partitions side by side).

    The feed is one stream: one lock. Orders are streamed per unit: one lock per unit, so an
    order's slow insert holds up only that unit's next order, not every alarm's (with one lock
    for all orders, a few inserts of 100-450 ms on the embedded database queued every alarm
    behind them, the feed entries too, for up to 3.5 s)."""

    feed: asyncio.Lock = field(default_factory=asyncio.Lock)
    _orders: dict[str, asyncio.Lock] = field(default_factory=dict)

    def orders_of(self, unit_id: str) -> asyncio.Lock:
        return self._orders.setdefault(unit_id, asyncio.Lock())
