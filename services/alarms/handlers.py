"""Kafka subscribers of the alarms service: thin, they parse and call service.py."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from services.alarms import service
from services.alarms.service import Deps
from shared.bus import MessageProcessor, event_subscriber
from shared.events import AlarmCommand, AlarmPressed, utcnow


def build_router(deps: Deps, processor: MessageProcessor) -> KafkaRouter:
    router = KafkaRouter()

    @event_subscriber(
        router,
        deps.topics.alarms_pressed,
        group_id=deps.topics.group("alarms-raise"),
        latency_critical=True,
        # keyed by school: one school's presses in order, schools' side by side (bursts)
        partitions_at_once=deps.topics.partitions()[deps.topics.alarms_pressed],
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
        # keyed by alarm: one alarm's commands in order, alarms side by side (notifications
        # sends one or two per alarm: dispatch, and assign when a unit accepts)
        partitions_at_once=deps.topics.partitions()[deps.topics.alarms_commands],
        description="Applies dispatcher, unit and system commands through the state machine",
    )
    async def on_command(message: KafkaMessage) -> None:
        async def handle(command: AlarmCommand) -> None:
            await service.apply_command(deps=deps, command=command, now=utcnow())

        await processor.process(message, AlarmCommand, handle)

    return router
