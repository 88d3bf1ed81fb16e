"""The consumer wrapper that turns every subscriber into 'parse, handle with retries, or
dead-letter', and the counters it keeps."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from faststream.kafka.message import KafkaMessage
from prometheus_client import Counter
from pydantic import BaseModel, ValidationError

from shared.bus.publishers import Publisher
from shared.events import DeadLetter
from shared.faults import is_transient
from shared.instruments import Instruments, counter
from shared.observability import TRACE_HEADER, new_trace_id, trace_id_var
from shared.topics import Topics

log = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseModel)


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


class ConsumerMetrics(Instruments):
    """Counters every consumer shares: processed, retried, dead-lettered."""

    processed: Counter = counter(
        "safecampus_events_processed_total", "Events handled to completion", "topic"
    )
    retries: Counter = counter(
        "safecampus_event_retries_total",
        "Transient failures retried while handling an event",
        "topic",
    )
    dead_lettered: Counter = counter(
        "safecampus_dlq_messages_total",
        "Messages sent to <topic>.dlq because they can never be processed",
        "topic",
        "reason",
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
        self, message: KafkaMessage, model: type[E], handle: Callable[[E], Awaitable[object]]
    ) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple), "batch subscribers use process_batch"
        headers = message.headers or {}
        token = trace_id_var.set(str(headers.get(TRACE_HEADER) or new_trace_id()))
        started = time.perf_counter()
        try:
            event = await self._parse(record, model)
            if event is not None:
                await self._conclude(
                    record, await self._retrying(record.topic, lambda: handle(event))
                )
        finally:
            _warn_if_slow(record, time.perf_counter() - started)
            trace_id_var.reset(token)

    async def process_batch(
        self,
        message: KafkaMessage,
        model: type[E],
        handle: Callable[[list[E]], Awaitable[object]],
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
            await self._conclude(record, await self._retrying(topic, partial(handle, [event])))

    async def _parse(self, record: Any, model: type[E]) -> E | None:
        """The event, or None after dead-lettering a message that can never be parsed."""
        try:
            return model.model_validate_json(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, "invalid", _summarise(exc))
            return None

    async def _conclude(self, record: Any, failure: BaseException | None) -> None:
        """Count the message as processed, or dead-letter it with the failure that ended it."""
        if failure is None:
            self._metrics.processed.labels(record.topic).inc()
            return
        log.error("handler failed; dead-lettering", extra={"topic": record.topic}, exc_info=failure)
        await self._dead_letter(record, "failed", repr(failure))

    async def _retrying(
        self, topic: str, call: Callable[[], Awaitable[object]]
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
