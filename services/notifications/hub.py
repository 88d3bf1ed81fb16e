"""In-process fan-out of feed entries to live stream subscribers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from services.notifications.models import FeedEntry


@dataclass(eq=False)
class Subscription:
    """One live client. `overflowed` means it fell behind: end its stream so it resumes from
    the database with Last-Event-ID instead of silently missing entries."""

    queue: asyncio.Queue[FeedEntry] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    overflowed: bool = False


class Hub:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def subscribe(self) -> Subscription:
        subscription = Subscription()
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, entry: FeedEntry) -> None:
        for subscription in self._subscriptions:
            try:
                subscription.queue.put_nowait(entry)
            except asyncio.QueueFull:
                subscription.overflowed = True

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)
