"""In-process fan-out of new entries (feed entries, unit orders) to live stream subscribers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(eq=False)
class Subscription(Generic[T]):
    """One live client. `overflowed` means it fell behind: end its stream so it resumes from
    the database with Last-Event-ID instead of silently missing entries."""

    topic: str | None = None
    queue: asyncio.Queue[T] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    overflowed: bool = False


class Hub(Generic[T]):
    """Subscribers see what is published to their topic (None: everything)."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription[T]] = set()

    def subscribe(self, topic: str | None = None) -> Subscription[T]:
        subscription: Subscription[T] = Subscription(topic=topic)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription[T]) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, entry: T, topic: str | None = None) -> None:
        """To every matching subscriber; one whose queue is full is marked and dropped (its
        stream ends when it next looks; one that never looks is not kept)."""
        overflowed = []
        for subscription in self._subscriptions:
            if subscription.topic is not None and subscription.topic != topic:
                continue
            try:
                subscription.queue.put_nowait(entry)
            except asyncio.QueueFull:
                subscription.overflowed = True
                overflowed.append(subscription)
        self._subscriptions.difference_update(overflowed)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)
