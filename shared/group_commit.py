"""Group commit: many small writes gathered into one batch write, each writer answered when
the batch that holds its item is written.

Written here rather than taken from a library: what it needs (merge by key, await the batch,
keep unawaited items for the next try) is a few lines over asyncio, and the queue libraries
on PyPI batch for throughput without telling each producer when its item is durable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class GroupCommit(Generic[K, V]):
    """Items put within `window_s` of the first are written together by `write`; one key's
    items within a batch are merged (`merge(older, newer)`). A failed write fails its awaiting
    writers; items nobody awaits are kept for the next batch (tried again, never dropped)."""

    def __init__(
        self,
        write: Callable[[list[V]], Awaitable[None]],
        merge: Callable[[V, V], V],
        *,
        window_s: float,
        retry_s: float = 1.0,
    ) -> None:
        self._write = write
        self._merge = merge
        self._window_s = window_s
        self._retry_s = retry_s
        self._pending: dict[K, V] = {}
        self._awaited: set[K] = set()
        self._done: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def put(self, key: K, item: V) -> None:
        """Return once the batch holding `item` is written; raise what the write raised."""
        done = self._add(key, item)
        self._awaited.add(key)
        await asyncio.shield(done)

    def put_nowait(self, key: K, item: V) -> None:
        """Written with the next batch; not awaited (kept and tried again if that fails)."""
        self._add(key, item)

    def _add(self, key: K, item: V) -> asyncio.Future[None]:
        older = self._pending.get(key)
        self._pending[key] = item if older is None else self._merge(older, item)
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_after(self._window_s))
        return self._done

    async def _flush_after(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._flusher = None
        await self.flush()

    async def flush(self) -> None:
        """Write what is pending now."""
        if not self._pending or self._done is None:
            return
        batch, awaited, done = self._pending, self._awaited, self._done
        self._pending, self._awaited, self._done = {}, set(), None
        try:
            await self._write(list(batch.values()))
        except Exception as exc:  # noqa: BLE001 - not swallowed: given to its writers, kept items retried
            kept = {key: item for key, item in batch.items() if key not in awaited}
            log.warning(
                "group commit failed",
                extra={"items": len(batch), "kept": len(kept), "error": repr(exc)},
            )
            for key, item in kept.items():
                self._add(key, item)
            if kept and self._flusher is not None:
                self._flusher.cancel()
                self._flusher = asyncio.create_task(self._flush_after(self._retry_s))
            done.set_exception(exc)
            done.exception()  # retrieved: nobody may be awaiting it
            return
        done.set_result(None)

    async def close(self) -> None:
        """Write what is pending, at a clean stop."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        await self.flush()
