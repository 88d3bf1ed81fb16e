"""The message bus as services see it: a Kafka broker factory, a publisher, and the consumer
wrapper that turns every subscriber into 'parse, handle with retries, or dead-letter'."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.subscriber.usecase import BatchSubscriber, DefaultSubscriber
from faststream.middlewares import AckPolicy
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ValidationError

from shared.events import DeadLetter
from shared.faults import is_transient, is_unavailable
from shared.observability import TRACE_HEADER, new_trace_id, trace_id_var
from shared.settings import Settings
from shared.topics import Topics

log = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseModel)


# Latency-critical consumers: how long the broker may hold an empty fetch. It answers as soon
# as a message is there (fetch_min_bytes 1), so this bounds only how often an idle consumer
# asks again. 5 ms made every such consumer ask 200 times a second, CPU on both sides that
# the alarm path missed under load (50 ms: p50 7 ms lower, idle unchanged: docs/benchmarks.md);
# the default 500 ms once showed as latency.
FAST_FETCH_WAIT_MS = 50

# Latency-critical consumer groups: an instance that dies (SIGKILL, a lost host) holds its
# partitions until the group coordinator has not heard from it for the session timeout; its
# alarms wait that long for another instance. aiokafka's 10 s default was the whole of a
# dispatcher's failover time. The broker must allow it (group.min.session.timeout.ms, 6 s by
# default: deploy/local/infra.sh and docker-compose.yml set 2 s). Heartbeats at a quarter, so
# the survivors hear of the rebalance soon after the coordinator does.
FAST_SESSION_TIMEOUT_MS = 2000
FAST_HEARTBEAT_MS = 500


@dataclass(frozen=True)
class BatchShape:
    """How a bulk consumer reads: the broker holds a fetch until min_bytes are there or
    max_wait_ms passed; the subscriber hands over at most max_records at a time."""

    max_records: int
    min_bytes: int
    max_wait_ms: int


# Positions are bulk traffic: big, infrequent batches keep the per-batch writes (one upsert
# per unit, 2dsphere-indexed in patrols) rare; a board ≤ 0.5 s behind is fine for nearest-unit
# search. (1000 ms was tried: ingestion then fell behind at 5000 fixes/s; docs/benchmarks.md.)
POSITION_BATCH = BatchShape(max_records=2000, min_bytes=256 * 1024, max_wait_ms=500)
# A read model of positions that only needs each unit's newest fix (notifications' board):
# longer batches, so one bulk write stands for many fixes; still committed after that write.
READ_MODEL_BATCH = BatchShape(max_records=10_000, min_bytes=1024 * 1024, max_wait_ms=2000)


# Producers wait for every in-sync replica (acks=all) but are not idempotent. aiokafka's
# idempotent producer can fall out of step with a restarted broker (OutOfOrderSequenceNumber)
# and then refuses every send until the process restarts (aio-libs/aiokafka#1017): the fault
# suite saw one alarms instance answer presses 202 into its journal and never forward them.
# Nothing here needs the broker to drop a retried duplicate: every event has a stable id and
# every consumer applies it once; aiokafka sends one batch per partition at a time, so a retry
# does not reorder a partition.
IDEMPOTENT_PRODUCERS = False


def make_broker(settings: Settings, *, service: str, registry: CollectorRegistry) -> KafkaBroker:
    """A FastStream Kafka broker: a producer with acks=all, Prometheus middleware.

    Building it does no I/O; `await broker.start()` connects.
    """
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"safecampus-{service}",
        acks="all",
        enable_idempotence=IDEMPOTENT_PRODUCERS,
        linger_ms=0,
        request_timeout_ms=15_000,
        graceful_timeout=15.0,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=service)],
        logger=logging.getLogger(f"faststream.{service}"),
        log_level=logging.DEBUG,  # per-message "Received/Processed" lines: too many for INFO
    )


def event_subscriber(
    router: KafkaRouter,
    topic: str,
    *,
    group_id: str,
    description: str,
    latency_critical: bool,
    partitions_at_once: int = 1,
) -> DefaultSubscriber:
    """One message at a time, acknowledged after handling (MessageProcessor.process).

    `partitions_at_once` > 1: that many consumers of the group in this process, each with its
    own partitions, one message at a time each. Messages with the same key stay in order; for
    handlers whose messages of different keys do not depend on each other's order."""
    return router.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FAST_FETCH_WAIT_MS if latency_critical else 500,
        session_timeout_ms=FAST_SESSION_TIMEOUT_MS if latency_critical else 10_000,
        heartbeat_interval_ms=FAST_HEARTBEAT_MS if latency_critical else 3_000,
        max_workers=partitions_at_once,
        description=description,
    )


def batch_subscriber(
    router: KafkaRouter, topic: str, *, group_id: str, description: str, shape: BatchShape
) -> BatchSubscriber:
    """Batches shaped by `shape`, acknowledged after handling (MessageProcessor.process_batch)."""
    return router.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        batch=True,
        max_records=shape.max_records,
        batch_timeout_ms=shape.max_wait_ms,
        fetch_min_bytes=shape.min_bytes,
        fetch_max_wait_ms=shape.max_wait_ms,
        decoder=_body_left_raw,
        description=description,
    )


async def _body_left_raw(message: Any) -> None:
    """FastStream would JSON-decode every record of a batch for nothing: the processor parses
    the raw records with pydantic (5 % of patrols' CPU at 5000 fixes/s)."""
    return None


# A message whose handling took longer than this is logged (topic, partition, offset, seconds):
# on the alarm path that is an alarm late by as much.
SLOW_HANDLING_S = 0.5


def _warn_if_slow(record: Any, seconds: float) -> None:
    if seconds > SLOW_HANDLING_S:
        log.warning(
            "slow message handling",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "seconds": round(seconds, 3),
            },
        )


class Publisher(Protocol):
    """What services need from the bus: publish events, durably, keyed."""

    async def publish(self, topic: str, key: str, event: BaseModel) -> None: ...

    async def publish_many(self, topic: str, items: Sequence[tuple[str, BaseModel]]) -> None: ...


class BulkProducer:
    """A producer of its own for bulk traffic (position fixes), so it never queues in front
    of alarm messages, and cheap per message: FastStream's publish path costs ~39 µs per message
    against ~11 µs for aiokafka's `send` (tools.bench_publish). Connects on first use."""

    def __init__(self, settings: Settings, *, service: str) -> None:
        self._settings = settings
        self._service = service
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def producer(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._settings.kafka_bootstrap,
                    client_id=f"safecampus-{self._service}-bulk",
                    acks="all",
                    enable_idempotence=IDEMPOTENT_PRODUCERS,
                    linger_ms=2,
                    max_batch_size=256 * 1024,
                    request_timeout_ms=15_000,
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()  # release what a failed start opened; next call retries
                    raise
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


class KafkaPublisher:
    """Publishes pydantic events as JSON; returns only when the broker acknowledged (acks=all).
    `publish_many` goes through the bulk producer when there is one."""

    def __init__(self, broker: KafkaBroker, bulk: BulkProducer | None = None) -> None:
        self._broker = broker
        self._bulk = bulk

    @staticmethod
    def _headers() -> dict[str, str]:
        return {TRACE_HEADER: trace_id_var.get() or new_trace_id()}

    async def publish(self, topic: str, key: str, event: BaseModel) -> None:
        await self.append(topic, key, event)

    async def append(self, topic: str, key: str, event: BaseModel) -> int:
        """Publish, and return the event's position in its partition (offset + 1): for topics
        read as logs, whose readers resume after a position."""
        sent = await self._broker.publish(
            event.model_dump_json().encode(),
            topic=topic,
            key=key.encode(),
            headers=self._headers(),
        )
        return int(sent.offset) + 1

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
        self, bulk: BulkProducer, topic: str, items: Sequence[tuple[str, BaseModel]]
    ) -> None:
        producer = await bulk.producer()
        headers = [(name, value.encode()) for name, value in self._headers().items()]
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


class ConsumerMetrics:
    """Counters every consumer shares: processed, retried, dead-lettered."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.processed = Counter(
            "safecampus_events_processed_total",
            "Events handled to completion",
            ["topic"],
            registry=registry,
        )
        self.retries = Counter(
            "safecampus_event_retries_total",
            "Transient failures retried while handling an event",
            ["topic"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "safecampus_dlq_messages_total",
            "Messages sent to <topic>.dlq because they can never be processed",
            ["topic", "reason"],
            registry=registry,
        )


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter."""

    first_s: float = 0.1
    max_s: float = 5.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_s, self.first_s * 2**attempt))  # noqa: S311


class MessageProcessor:
    """Parse → handle (transient failures retried forever) → else dead-letter with the reason.

    The subscriber acknowledges after this returns, so an offset is committed only after the
    effect is stored or the message is safely on the DLQ. Cancellation (shutdown) propagates:
    the message is then redelivered after restart, and handlers are idempotent.
    """

    def __init__(
        self,
        *,
        service: str,
        publisher: Publisher,
        metrics: ConsumerMetrics,
        backoff: Backoff = Backoff(),
    ) -> None:
        self._service = service
        self._publisher = publisher
        self._metrics = metrics
        self._backoff = backoff

    async def process(
        self, message: KafkaMessage, model: type[E], handle: Callable[[E], Awaitable[None]]
    ) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple), "batch subscribers use process_batch"
        headers = message.headers or {}
        token = trace_id_var.set(str(headers.get(TRACE_HEADER) or new_trace_id()))
        started = time.perf_counter()
        try:
            event = await self._parse(record, model)
            if event is not None:
                await self._settle(
                    record, await self._retrying(record.topic, lambda: handle(event))
                )
        finally:
            _warn_if_slow(record, time.perf_counter() - started)
            trace_id_var.reset(token)

    async def process_batch(
        self,
        message: KafkaMessage,
        model: type[E],
        handle: Callable[[list[E]], Awaitable[None]],
    ) -> None:
        """Handle a batch in one go; if that fails for good, one by one, so that only the
        message at fault is dead-lettered."""
        records = message.raw_message
        records = records if isinstance(records, tuple) else (records,)
        parsed = [(record, await self._parse(record, model)) for record in records]
        valid = [(record, event) for record, event in parsed if event is not None]
        if not valid:
            return
        topic = valid[0][0].topic
        failure = await self._retrying(topic, lambda: handle([event for _, event in valid]))
        if failure is None:
            self._metrics.processed.labels(topic).inc(len(valid))
            return
        log.warning(
            "batch failed; handling its messages one by one", extra={"error": repr(failure)}
        )
        for record, event in valid:
            await self._settle(record, await self._retrying(topic, partial(handle, [event])))

    async def _parse(self, record: Any, model: type[E]) -> E | None:
        """The event, or None after dead-lettering a message that can never be parsed."""
        try:
            return model.model_validate_json(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, "invalid", _summarise(exc))
            return None

    async def _settle(self, record: Any, failure: BaseException | None) -> None:
        if failure is None:
            self._metrics.processed.labels(record.topic).inc()
            return
        log.error("handler failed; dead-lettering", extra={"topic": record.topic}, exc_info=failure)
        await self._dead_letter(record, "failed", repr(failure))

    async def _retrying(
        self, topic: str, call: Callable[[], Awaitable[None]]
    ) -> BaseException | None:
        """Run call until it succeeds (None) or fails for good (the error). Transient failures
        are retried with backoff for as long as it takes."""
        attempt = 0
        while True:
            try:
                await call()
                return None
            except Exception as exc:  # noqa: BLE001 - not swallowed: retried or dead-lettered
                if not is_transient(exc):
                    return exc
                await self._wait_after(topic, attempt, exc)
            attempt += 1

    async def _wait_after(self, topic: str, attempt: int, exc: BaseException) -> None:
        self._metrics.retries.labels(topic).inc()
        delay = self._backoff.delay(attempt)
        log.warning(
            "transient failure; retrying",
            extra={"topic": topic, "attempt": attempt, "error": repr(exc), "delay_s": delay},
        )
        await asyncio.sleep(delay)

    async def _dead_letter(self, record: Any, reason: str, error: str) -> None:
        letter = DeadLetter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode("utf-8", "replace") if record.key else None,
            service=self._service,
            error=error,
            payload=(record.value or b"").decode("utf-8", "replace"),
        )
        attempt = 0
        while True:
            try:
                await self._publisher.publish(Topics.dlq(record.topic), letter.key or "", letter)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                await self._wait_after(record.topic, attempt, exc)
                attempt += 1
        self._metrics.dead_lettered.labels(record.topic, reason).inc()
        log.error(
            "message dead-lettered",
            extra={
                "topic": record.topic,
                "offset": record.offset,
                "reason": reason,
                "error": error,
            },
        )


def _summarise(exc: ValidationError) -> str:
    """'field: message; field: message', naming every invalid field."""
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<body>'}: {err['msg']}" for err in exc.errors()
    ]
    return "; ".join(parts)[:2000]


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

    async def cancel(self) -> None:
        """Stop the work under way (its durable record has it done after a restart)."""
        for task in self._tasks:
            task.cancel()
        await self.drain()
