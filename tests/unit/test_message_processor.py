"""The consumer wrapper: retries transient failures, dead-letters the rest, isolates poison."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DuplicateKeyError,
    OperationFailure,
    WriteConcernError,
)

from shared.bus.processing import Backoff, ConsumerMetrics, MessageProcessor
from shared.events import DeadLetter, PositionReported
from tests.fakes.publisher import RecordingPublisher

TOPIC = "patrols.positions"


@dataclass
class Record:
    value: bytes
    offset: int
    topic: str = TOPIC
    partition: int = 0
    key: bytes | None = b"U1"


@dataclass
class Message:
    """The two attributes MessageProcessor reads from a FastStream KafkaMessage."""

    raw_message: Any
    headers: dict[str, str] = field(default_factory=dict)


def fix(unit: str) -> bytes:
    event = PositionReported(unit_id=unit, lat=35.7, lon=105.0, recorded_at=datetime.now(UTC))
    return event.model_dump_json().encode()


def fix_text(record: Record) -> str:
    return record.value.decode()


def processor(publisher: RecordingPublisher, registry: CollectorRegistry) -> MessageProcessor:
    return MessageProcessor(
        service="test",
        publisher=publisher,
        metrics=ConsumerMetrics(registry),
        backoff=Backoff(first_s=0.001, max_s=0.002),
    )


async def test_a_poison_message_in_a_batch_is_dead_lettered_alone() -> None:
    publisher, registry = RecordingPublisher(), CollectorRegistry()
    stored: list[str] = []

    async def handle(fixes: list[PositionReported]) -> None:
        if any(f.unit_id == "GHOST" for f in fixes):
            raise ValueError("fixes for unknown units ['GHOST']")
        stored.extend(f.unit_id for f in fixes)

    batch = (
        Record(fix("U1"), 0),
        Record(b"garbage", 1),
        Record(fix("GHOST"), 2),
        Record(fix("U2"), 3),
    )
    await processor(publisher, registry).process_batch(Message(batch), PositionReported, handle)  # type: ignore[arg-type]

    assert stored == ["U1", "U2"]
    letters = [e for e in publisher.events(f"{TOPIC}.dlq") if isinstance(e, DeadLetter)]
    assert [d.offset for d in letters] == [1, 2]
    assert letters[0].error.startswith("<body>: Invalid JSON")
    assert "unknown units ['GHOST']" in letters[1].error and letters[1].payload == fix_text(
        batch[2]
    )
    assert registry.get_sample_value("safecampus_events_processed_total", {"topic": TOPIC}) == 2


async def test_transient_failures_are_retried_not_dead_lettered() -> None:
    publisher, registry = RecordingPublisher(), CollectorRegistry()
    calls: list[int] = []

    async def handle(event: PositionReported) -> None:
        calls.append(1)
        if len(calls) < 4:
            raise AutoReconnect("database restarting")

    await processor(publisher, registry).process(
        Message(Record(fix("U1"), 0)), PositionReported, handle
    )  # type: ignore[arg-type]

    assert len(calls) == 4
    assert publisher.sent == []
    assert registry.get_sample_value("safecampus_event_retries_total", {"topic": TOPIC}) == 3
    assert registry.get_sample_value("safecampus_events_processed_total", {"topic": TOPIC}) == 1


BUSY_SERVER = [
    OperationFailure("operation exceeded time limit", code=262),
    OperationFailure("operation was interrupted", code=11601),
    OperationFailure("not primary", code=10107),
    WriteConcernError("waiting for replication timed out", code=64),
    BulkWriteError({"writeErrors": [], "writeConcernErrors": [{"code": 64, "errmsg": "wtimeout"}]}),
]


@pytest.mark.parametrize("error", BUSY_SERVER, ids=lambda e: type(e).__name__ + str(e.code))
async def test_a_busy_or_electing_database_is_retried_without_the_retryable_label(
    error: OperationFailure,
) -> None:
    """With retryable writes off, and on reads, PyMongo never labels these
    `RetryableWriteError`; they dead-lettered the press and the alarm was never raised."""
    publisher, registry = RecordingPublisher(), CollectorRegistry()
    calls: list[int] = []

    async def handle(event: PositionReported) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise error

    await processor(publisher, registry).process(
        Message(Record(fix("U1"), 0)), PositionReported, handle
    )  # type: ignore[arg-type]

    assert len(calls) == 3 and publisher.sent == []


@pytest.mark.parametrize(
    "error",
    [
        DuplicateKeyError("E11000 duplicate key", code=11000),
        OperationFailure("bad query", code=2),
        BulkWriteError({"writeErrors": [{"code": 11000}], "writeConcernErrors": []}),
    ],
    ids=["duplicate_key", "bad_value", "bulk_write_error"],
)
async def test_a_database_error_that_will_recur_is_dead_lettered_at_once(
    error: OperationFailure,
) -> None:
    publisher, registry = RecordingPublisher(), CollectorRegistry()
    calls: list[int] = []

    async def handle(event: PositionReported) -> None:
        calls.append(1)
        raise error

    await processor(publisher, registry).process(
        Message(Record(fix("U1"), 0)), PositionReported, handle
    )  # type: ignore[arg-type]

    assert len(calls) == 1
    assert [type(letter) for _, _, letter in publisher.sent] == [DeadLetter]


async def test_work_after_the_acknowledgement_runs_later_and_a_failure_is_counted() -> None:
    from prometheus_client import CollectorRegistry

    from shared.bus.background import Afterwards, background_failures

    registry = CollectorRegistry()
    afterwards = Afterwards("outbox-settle", background_failures(registry))
    done: list[str] = []

    async def settle(name: str) -> None:
        await asyncio.sleep(0.01)
        done.append(name)

    async def fail() -> None:
        raise ConnectionError("database gone")

    await afterwards.run(settle("first"))
    await afterwards.run(fail())
    assert done == [], "the caller goes on at once"
    await afterwards.drain()
    assert done == ["first"]
    failed = registry.get_sample_value(
        "safecampus_background_failures_total", {"job": "outbox-settle", "kind": "error"}
    )
    assert failed == 1
