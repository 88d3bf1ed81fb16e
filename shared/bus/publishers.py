"""Publishing events: the Publisher services depend on, its Kafka implementation, and
producers of their own for bulk traffic and for log appends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from shared.bus.broker import IDEMPOTENT_PRODUCERS, learn_partitions
from shared.observability import TRACE_HEADER, new_trace_id, trace_id_var
from shared.settings import Settings


class Publisher(Protocol):
    """What services need from the bus: publish events, durably, keyed."""

    async def publish(self, topic: str, key: str, event: BaseModel) -> None: ...

    async def publish_many(self, topic: str, items: Sequence[tuple[str, BaseModel]]) -> None: ...


class OwnProducer:
    """An aiokafka producer of its own, for traffic that must not queue behind the service's
    other messages, nor they behind it; cheap per message: aiokafka's `send` directly, not
    FastStream's publish path (tools.bench_publish compares them). Connects on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        service: str,
        role: str,
        linger_ms: int = 0,
        max_batch_size: int = 16 * 1024,
    ) -> None:
        self._settings = settings
        self._client_id = f"safecampus-{service}-{role}"
        self._linger_ms = linger_ms
        self._max_batch_size = max_batch_size
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def producer(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._settings.kafka_bootstrap,
                    client_id=self._client_id,
                    acks="all",
                    enable_idempotence=IDEMPOTENT_PRODUCERS,
                    linger_ms=self._linger_ms,
                    max_batch_size=self._max_batch_size,
                    request_timeout_ms=15_000,
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()  # release what a failed start opened; next call retries
                    raise
                self._producer = producer
            return self._producer

    async def warm(self, topics: Sequence[str]) -> None:
        """Connect now and learn where the topics' partitions are, so the first message after
        start-up (an alarm's, as likely as not) pays neither."""
        await learn_partitions(await self.producer(), topics)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def bulk_producer(settings: Settings, *, service: str) -> OwnProducer:
    """For bulk traffic (position fixes): batched, never in front of alarm messages."""
    return OwnProducer(
        settings, service=service, role="bulk", linger_ms=2, max_batch_size=256 * 1024
    )


def _trace_id() -> str:
    """The trace id of the work under way, carried to whoever handles the message."""
    return trace_id_var.get() or new_trace_id()


def _trace_headers() -> list[tuple[str, bytes]]:
    """The trace header as aiokafka takes headers."""
    return [(TRACE_HEADER, _trace_id().encode())]


class LogAppender:
    """Appends items to log topics through a producer of its own, so an append never waits
    behind the service's other publishes (aiokafka sends one request at a time per broker and
    producer); returns each item's position (offset + 1) once durable."""

    def __init__(self, settings: Settings, *, service: str) -> None:
        self._own = OwnProducer(settings, service=service, role="log")

    async def append(self, topic: str, key: str, item: BaseModel) -> int:
        producer = await self._own.producer()
        sent = await producer.send_and_wait(
            topic, item.model_dump_json().encode(), key=key.encode(), headers=_trace_headers()
        )
        return int(sent.offset) + 1

    async def warm(self, topics: Sequence[str]) -> None:
        await self._own.warm(topics)

    async def close(self) -> None:
        await self._own.close()


class KafkaPublisher:
    """Publishes pydantic events as JSON; returns only when the broker acknowledged (acks=all).
    `publish_many` goes through the bulk producer when there is one."""

    def __init__(self, broker: KafkaBroker, bulk: OwnProducer | None = None) -> None:
        self._broker = broker
        self._bulk = bulk

    @staticmethod
    def _headers() -> dict[str, str]:
        """The trace header as FastStream takes headers."""
        return {TRACE_HEADER: _trace_id()}

    async def publish(self, topic: str, key: str, event: BaseModel) -> None:
        await self._broker.publish(
            event.model_dump_json().encode(),
            topic=topic,
            key=key.encode(),
            headers=self._headers(),
        )

    async def publish_many(self, topic: str, items: Sequence[tuple[str, BaseModel]]) -> None:
        """Pipelines the sends, then waits for every acknowledgement."""
        if self._bulk is not None:
            await self._publish_bulk(self._bulk, topic, items)
            return
        headers = self._headers()
        pending: list[asyncio.Future[Any]] = []
        for key, event in items:
            future = await self._broker.publish(
                event.model_dump_json().encode(),
                topic=topic,
                key=key.encode(),
                headers=headers,
                no_confirm=True,
            )
            pending.append(future)
        await asyncio.gather(*pending)

    async def _publish_bulk(
        self, bulk: OwnProducer, topic: str, items: Sequence[tuple[str, BaseModel]]
    ) -> None:
        producer = await bulk.producer()
        headers = _trace_headers()
        pending = [
            await producer.send(
                topic, event.model_dump_json().encode(), key=key.encode(), headers=headers
            )
            for key, event in items
        ]
        await asyncio.gather(*pending)

    async def close(self) -> None:
        if self._bulk is not None:
            await self._bulk.close()
