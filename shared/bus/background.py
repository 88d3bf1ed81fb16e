"""Work beside the consumers: rounds run every interval, and work left running after a
message is acknowledged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from shared.faults import is_unavailable

log = logging.getLogger(__name__)


async def run_every(
    name: str, interval_s: float, job: Callable[[], Awaitable[object]], failures: Counter
) -> None:
    """Run job every interval, for ever. A failing round is logged and counted and the next
    one tries again: what background jobs work on (deadlines, outboxes, journals) is durable."""
    while True:
        try:
            await job()
        except Exception as exc:
            if is_unavailable(exc):
                failures.labels(name, "transient").inc()
                log.warning(
                    "background round failed; retrying", extra={"job": name, "error": repr(exc)}
                )
            else:
                failures.labels(name, "error").inc()
                log.exception("background round failed", extra={"job": name})
        await asyncio.sleep(interval_s)


@dataclass(frozen=True)
class Round:
    """A background job: `work` every `interval_s`, under `name` in logs and failure counts."""

    name: str
    interval_s: float
    work: Callable[[], Awaitable[object]]

    def job(self, failures: Counter) -> Callable[[], Coroutine[Any, Any, None]]:
        async def run() -> None:
            await run_every(self.name, self.interval_s, self.work, failures)

        run.__name__ = self.name
        return run


def background_failures(registry: CollectorRegistry) -> Counter:
    return Counter(
        "safecampus_background_failures_total",
        "Background rounds that failed (retried next round), by job",
        ["job", "kind"],
        registry=registry,
    )


# How long a relay round leaves an outbox event to the `Afterwards` work that publishes it
# right after the write: relaying younger ones too published events twice (same ids) while
# that work was under way (an e2e test caught it on orders' delivery events).
RELAY_AFTER = timedelta(seconds=5)


class Afterwards:
    """Work a handler may leave running after its message is acknowledged, because a durable
    record already makes sure it gets done (an outbox that a ticker relays again): each runs as
    a task; a failure is logged and counted (safecampus_background_failures_total{job}) and
    left to that record. `inline` (unit tests) awaits the work instead."""

    def __init__(self, job: str, failures: Counter | None = None, *, inline: bool = False):
        self._job = job
        self._failures = failures
        self._inline = inline
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, work: Coroutine[Any, Any, None]) -> None:
        if self._inline:
            await work
            return
        task = asyncio.create_task(work, name=self._job)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        if self._failures is not None:
            self._failures.labels(self._job, "error").inc()
        log.warning(
            "work after the acknowledgement failed; its durable record has it done later",
            extra={"job": self._job, "error": repr(task.exception())},
        )

    @property
    def under_way(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for the work under way (tests; a clean stop)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self, grace_s: float = 5.0) -> None:
        """At shutdown: let the work under way finish for up to `grace_s`, then cancel the rest
        (its durable record has it done after a restart)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_s)
        await self.cancel()

    async def cancel(self) -> None:
        """Stop the work under way (its durable record has it done after a restart)."""
        for task in self._tasks:
            task.cancel()
        await self.drain()
