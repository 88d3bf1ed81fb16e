"""A publisher that keeps what it was given: the fake of shared.bus.publishers.Publisher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel


@dataclass
class RecordingPublisher:
    """A publisher that keeps what it was given; for unit tests."""

    sent: list[tuple[str, str, BaseModel]] = field(default_factory=list)

    async def publish(self, topic: str, key: str, event: BaseModel) -> None:
        self.sent.append((topic, key, event))

    async def publish_many(self, topic: str, items: Sequence[tuple[str, BaseModel]]) -> None:
        for key, event in items:
            await self.publish(topic, key, event)

    def events(self, topic: str) -> list[BaseModel]:
        return [event for t, _, event in self.sent if t == topic]
