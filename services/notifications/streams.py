"""The dispatcher feed and the unit orders as Kafka logs that every notifications instance reads.

The instance that handles an alarm event stores the entry (its decision, made once) and appends
it to a log topic; every instance reads each log topic in full, with its own consumer and no
consumer group, into a `Tail`: the last `keep` records of each partition in memory, fanned out
to its live streams. A stream's position (the SSE id) is the record's offset + 1 in its
partition: the same on every instance, so a client resumes on any of them after the last
position it saw. The feed has one partition (one total order); orders are keyed by unit, so a
unit's orders are in one partition, in the order they were appended.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel, ValidationError

from services.notifications.hub import Hub, Subscription
from services.notifications.models import FEED_ITEMS, Feed, FeedEntry, Order

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)

# Records of each partition kept in memory: a client whose position is older gets a `reset`.
KEEP = 10_000
# How long the broker may hold a tail's fetch when there is nothing new: it answers as soon as a
# record is there, so this only bounds how often an idle reader asks again. Every instance
# reads both logs, so a short wait multiplies the broker's empty answers (docs/benchmarks.md).
TAIL_FETCH_WAIT_MS = 500


class LogWriter(Protocol):
    """Appends an item to a log topic; returns its position (offset + 1) once durable
    (shared.bus.publishers.LogAppender)."""

    async def append(self, topic: str, key: str, item: BaseModel) -> int: ...


@dataclass(frozen=True)
class Shape(Generic[T]):
    """How a log's items are read: parsed, positioned, keyed (None: one stream of all) and
    told apart (a record appended twice is streamed once)."""

    parse: Callable[[bytes], T]
    key_of: Callable[[T], str | None]
    identity_of: Callable[[T], str]
    at: Callable[[T, int], T]
    frame: Callable[[T], str]  # the item as one Server-Sent Event


def sse_frame(position: int | None, event: str, item: BaseModel) -> str:
    return f"id: {position}\nevent: {event}\ndata: {item.model_dump_json()}\n\n"


FEED: Shape[Feed] = Shape(
    FEED_ITEMS.validate_json,
    key_of=lambda entry: None,
    identity_of=lambda entry: str(entry.event_id),
    at=lambda entry, position: entry.model_copy(update={"seq": position}),
    # event: the alarm's state, else `guard_post_gap` or `device_trouble`
    frame=lambda e: sse_frame(e.seq, e.state if isinstance(e, FeedEntry) else e.entry_type, e),
)
ORDERS = Shape(
    Order.model_validate_json,
    key_of=lambda order: order.unit_id,
    identity_of=lambda order: f"{order.order_id}/{order.state}",  # a unit sees it closed
    at=lambda order, position: order.model_copy(update={"seq": position}),
    frame=lambda order: sse_frame(order.seq, "order", order),
)


class Tail(Generic[T]):
    """The last `keep` records of each partition of one log, deduplicated, fanned out live."""

    def __init__(self, shape: Shape[T], *, keep: int = KEEP) -> None:
        self.shape = shape
        self.hub: Hub[T] = Hub()
        self.keep = keep
        self._partitions: list[int] = []
        self._windows: dict[int, deque[tuple[int, T]]] = {}
        self._first: dict[int, int] = {}  # first offset whose record is still kept
        self._next: dict[int, int] = {}  # next offset to read
        self._seen: dict[str, int] = {}  # identity → position, for the records kept
        self._frames: dict[str, str] = {}  # identity → its SSE frame, made once for all clients
        self._caught_up_at: dict[int, int] = {}
        self.caught_up = asyncio.Event()

    def start(self, first: dict[int, int], ends: dict[int, int]) -> None:
        """Reading starts at `first` per partition; caught up once `ends` are read."""
        self._partitions = sorted(first)
        for partition, offset in first.items():
            self._windows.setdefault(partition, deque())
            self._first.setdefault(partition, offset)
            self._next.setdefault(partition, offset)
        self._caught_up_at = ends
        self._check_caught_up()

    def resume_at(self, partition: int) -> int:
        """The offset to read next (after a reconnect, where reading stopped)."""
        return self._next[partition]

    def add(self, partition: int, offset: int, item: T) -> None:
        """One record read from the log; a record read before, or appended again, is skipped."""
        if offset < self._next[partition]:
            return
        if offset > self._next[partition]:  # records went before this instance read them
            log.warning(
                "log records skipped: streams from before them get a reset",
                extra={"partition": partition, "expected": self._next[partition], "got": offset},
            )
            self._first[partition] = offset
        self._next[partition] = offset + 1
        identity = self.shape.identity_of(item)
        if identity not in self._seen:
            positioned = self.shape.at(item, offset + 1)
            window = self._windows[partition]
            window.append((offset + 1, positioned))
            self._seen[identity] = offset + 1
            self._frames[identity] = self.shape.frame(positioned)
            if len(window) > self.keep:
                position, dropped = window.popleft()
                self._first[partition] = position
                gone = self.shape.identity_of(dropped)
                if self._seen.get(gone) == position:
                    del self._seen[gone]
                    del self._frames[gone]
            self.hub.publish(positioned, topic=self.shape.key_of(positioned))
        self._check_caught_up()

    def partition_of(self, key: str | None) -> int:
        """The partition a key's records are appended to (Kafka's default partitioner)."""
        if key is None or len(self._partitions) == 1:
            return self._partitions[0]
        chosen: int = DefaultPartitioner()(key.encode(), self._partitions, self._partitions)
        return chosen

    def position(self, key: str | None) -> int:
        """The position of the last record read of the key's partition (0: none)."""
        return self._next[self.partition_of(key)]

    def since(self, key: str | None, position: int) -> list[T] | None:
        """The key's items after `position`, or None if records after it are no longer kept."""
        partition = self.partition_of(key)
        if position < self._first[partition]:
            return None
        return [
            item
            for at, item in self._windows[partition]
            if at > position and (key is None or self.shape.key_of(item) == key)
        ]

    def frame(self, item: T) -> str:
        """The item as a Server-Sent Event: made once when it was read, for every client."""
        return self._frames.get(self.shape.identity_of(item)) or self.shape.frame(item)

    def kept(self, key: str | None) -> list[T]:
        """Every item of the key still kept, oldest first."""
        return [
            item
            for _, item in self._windows[self.partition_of(key)]
            if key is None or self.shape.key_of(item) == key
        ]

    def subscribe(self, key: str | None) -> Subscription[T]:
        return self.hub.subscribe(key)

    def unsubscribe(self, subscription: Subscription[T]) -> None:
        self.hub.unsubscribe(subscription)

    @property
    def started(self) -> bool:
        return bool(self._partitions)

    def _check_caught_up(self) -> None:
        if not self.caught_up.is_set() and all(
            self._next[p] >= end for p, end in self._caught_up_at.items()
        ):
            self.caught_up.set()


@dataclass
class MemoryLog:
    """A log in memory that feeds its tails at once; for unit tests."""

    tails: dict[str, Tail[Any]]

    def __post_init__(self) -> None:
        for tail in self.tails.values():
            if not tail.started:
                tail.start({0: 0}, {})

    async def append(self, topic: str, key: str, item: BaseModel) -> int:
        tail = self.tails[topic]
        partition = tail.partition_of(key)
        offset = tail.resume_at(partition)
        tail.add(partition, offset, item)
        return offset + 1


async def follow(tail: Tail[M], *, topic: str, bootstrap: str, partitions: int) -> None:
    """Read `topic` in full into `tail` while the service runs: from the last `keep` records of
    each partition at start, then every record as it is appended. No consumer group: every
    instance reads everything, and commits nothing."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        # a position no longer on the broker (retention): from the oldest kept (Tail.add
        # sees the jump, and streams from before it get a reset)
        auto_offset_reset="earliest",
        fetch_max_wait_ms=TAIL_FETCH_WAIT_MS,
        client_id=f"safecampus-notifications-tail-{topic}",
    )
    await consumer.start()
    try:
        owned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(owned)
        if not tail.started:
            begins = await consumer.beginning_offsets(owned)
            ends = await consumer.end_offsets(owned)
            tail.start(
                {tp.partition: max(begins[tp], ends[tp] - tail.keep) for tp in owned},
                {tp.partition: ends[tp] for tp in owned},
            )
        for tp in owned:
            consumer.seek(tp, tail.resume_at(tp.partition))
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    item = _parsed(tail.shape.parse, record)
                    if item is not None:
                        tail.add(tp.partition, record.offset, item)
    finally:
        await consumer.stop()


def _parsed(parse: Callable[[bytes], M], record: object) -> M | None:
    """Only this service appends to its logs: a record that does not parse is a defect, logged
    loudly and skipped (every other instance skips it too)."""
    try:
        return parse(getattr(record, "value", b"") or b"")
    except ValidationError as exc:
        log.error(
            "unreadable log record skipped",
            extra={
                "topic": getattr(record, "topic", None),
                "offset": getattr(record, "offset", None),
                "error": str(exc)[:300],
            },
        )
        return None
