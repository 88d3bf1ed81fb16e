"""How services subscribe: one event (or batch) at a time, acknowledged after handling, with
the fetch and group settings of the alarm path or of bulk traffic; and the subscription table
each service's handlers.py declares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber, DefaultSubscriber
from faststream.middlewares import AckPolicy
from pydantic import BaseModel

from shared.bus.processing import MessageProcessor

# Latency-critical consumers: how long the broker may hold an empty fetch. It answers as soon
# as a message is there (fetch_min_bytes 1), so this bounds only how often an idle consumer
# asks again: shorter costs CPU on both sides, longer once showed as latency (docs/benchmarks.md,
# "What the code rests on").
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


# Positions are bulk traffic: big, infrequent batches keep the per-batch writes (history
# buckets, one upsert per unit) rare; a board ≤ 0.5 s behind is fine for nearest-unit search.
# Longer batches fell behind at high rates (docs/benchmarks.md, "What the code rests on").
POSITION_BATCH = BatchShape(max_records=2000, min_bytes=256 * 1024, max_wait_ms=500)
# A read model of positions that only needs each unit's newest fix (notifications' board):
# longer batches, so one bulk write stands for many fixes; still committed after that write.
READ_MODEL_BATCH = BatchShape(max_records=10_000, min_bytes=1024 * 1024, max_wait_ms=2000)
# Reports' read models: nobody waits on them, so each fetch, handling and commit stands for
# many events, and reporting takes less of the CPU the alarm path shares with it.
REPORT_BATCH = BatchShape(max_records=500, min_bytes=64 * 1024, max_wait_ms=500)


def event_subscriber(router: KafkaRouter, row: On) -> DefaultSubscriber:
    """One message at a time, acknowledged after handling (MessageProcessor.process).

    `row.partitions_at_once` > 1: that many consumers of the group in this process, each with
    its own partitions, one message at a time each. Messages with the same key stay in order;
    for handlers whose messages of different keys do not depend on each other's order."""
    fast = row.latency_critical
    return router.subscriber(
        row.topic,
        group_id=row.group,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FAST_FETCH_WAIT_MS if fast else 500,
        session_timeout_ms=FAST_SESSION_TIMEOUT_MS if fast else 10_000,
        heartbeat_interval_ms=FAST_HEARTBEAT_MS if fast else 3_000,
        max_workers=row.partitions_at_once,
        description=row.description,
    )


def batch_subscriber(router: KafkaRouter, row: On, shape: BatchShape) -> BatchSubscriber:
    """Batches shaped by `shape`, acknowledged after handling (MessageProcessor.process_batch)."""
    return router.subscriber(
        row.topic,
        group_id=row.group,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        batch=True,
        max_records=shape.max_records,
        batch_timeout_ms=shape.max_wait_ms,
        fetch_min_bytes=shape.min_bytes,
        fetch_max_wait_ms=shape.max_wait_ms,
        decoder=_body_left_raw,
        description=row.description,
    )


async def _body_left_raw(message: Any) -> None:
    """FastStream would JSON-decode every record of a batch for nothing: the processor parses
    the raw records with pydantic."""
    return None


@dataclass(frozen=True)
class On:
    """One row of a service's subscription table: a topic, the event its messages hold, and the
    service function that handles one (or, with `batch`, a list of them)."""

    topic: str
    group: str
    event: type[BaseModel]
    handle: Callable[[Any], Awaitable[object]]
    description: str
    latency_critical: bool = False
    partitions_at_once: int = 1
    batch: BatchShape | None = None


def router_for(table: Sequence[On], processor: MessageProcessor) -> KafkaRouter:
    """A router with one subscriber per row, each running its messages through `processor`."""
    router = KafkaRouter()
    for row in table:
        _subscribe(router, row, processor)
    return router


def _subscribe(router: KafkaRouter, row: On, processor: MessageProcessor) -> None:
    if row.batch is not None:
        batches = batch_subscriber(router, row, row.batch)

        async def on_batch(message: KafkaMessage) -> None:
            await processor.process_batch(message, row.event, row.handle)

        batches(on_batch)
        return
    events = event_subscriber(router, row)

    async def on_event(message: KafkaMessage) -> None:
        await processor.process(message, row.event, row.handle)

    events(on_event)
