"""Drivers of the alarms logic: Kafka subscribers (thin: parse, call service.py) and the
ticker that fires deadlines and relays leftover lifecycle events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter

from services.alarms import service
from services.alarms.service import Deps
from shared.bus import TRANSIENT_ERRORS, MessageProcessor, event_subscriber
from shared.events import AlarmCommand, AlarmPressed, utcnow

log = logging.getLogger(__name__)


def build_router(deps: Deps, processor: MessageProcessor) -> KafkaRouter:
    router = KafkaRouter()

    @event_subscriber(
        router,
        deps.topics.alarms_pressed,
        group_id=deps.topics.group("alarms-raise"),
        latency_critical=True,
        description="Raises one alarm per accepted press, or folds it into the school's open one",
    )
    async def on_pressed(message: KafkaMessage) -> None:
        async def handle(pressed: AlarmPressed) -> None:
            await service.raise_alarm(deps=deps, pressed=pressed, now=utcnow())

        await processor.process(message, AlarmPressed, handle)

    @event_subscriber(
        router,
        deps.topics.alarms_commands,
        group_id=deps.topics.group("alarms-commands"),
        latency_critical=True,
        description="Applies dispatcher, unit and system commands through the state machine",
    )
    async def on_command(message: KafkaMessage) -> None:
        async def handle(command: AlarmCommand) -> None:
            await service.apply_command(deps=deps, command=command, now=utcnow())

        await processor.process(message, AlarmCommand, handle)

    return router


async def run_every(
    name: str, interval_s: float, job: Callable[[], Awaitable[object]], failures: Counter
) -> None:
    """Run job every interval. A failing round is logged and counted, and the next one tries
    again: what it works on (deadlines, outboxes, the journal) is durable."""
    while True:
        try:
            await job()
        except (*TRANSIENT_ERRORS, *service.BROKER_DOWN) as exc:
            failures.labels(name, "transient").inc()
            log.warning(
                "background round failed; retrying", extra={"job": name, "error": repr(exc)}
            )
        except Exception:
            failures.labels(name, "error").inc()
            log.exception("background round failed", extra={"job": name})
        await asyncio.sleep(interval_s)
