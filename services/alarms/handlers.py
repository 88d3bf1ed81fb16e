"""Drivers of the alarms logic: Kafka subscribers (thin: parse, call service.py) and the
ticker that fires deadlines and relays leftover lifecycle events."""

from __future__ import annotations

import asyncio
import logging

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


async def run_ticker(deps: Deps, *, interval_s: float, failures: Counter) -> None:
    """Every interval: fire due deadlines, relay leftovers, refresh gauges. A failing tick is
    logged and counted, and the next one tries again (deadlines live in the database)."""
    while True:
        try:
            await service.tick(deps=deps, now=utcnow())
        except TRANSIENT_ERRORS as exc:
            failures.labels("transient").inc()
            log.warning("tick failed; retrying next tick", extra={"error": repr(exc)})
        except Exception:
            failures.labels("error").inc()
            log.exception("tick failed")
        await asyncio.sleep(interval_s)
