"""Kafka subscribers of the alarms service: thin, they parse and call service.py."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from services.alarms import service
from services.alarms.service import Deps
from shared.bus import MessageProcessor, event_subscriber
from shared.events import AlarmPressed, utcnow


def build_router(deps: Deps, processor: MessageProcessor) -> KafkaRouter:
    router = KafkaRouter()

    @event_subscriber(
        router,
        deps.topics.alarms_pressed,
        group_id=deps.topics.group("alarms-raise"),
        latency_critical=True,
        description="Raises one alarm per accepted press and publishes `raised`",
    )
    async def on_pressed(message: KafkaMessage) -> None:
        async def handle(pressed: AlarmPressed) -> None:
            await service.raise_alarm(deps=deps, pressed=pressed, now=utcnow())

        await processor.process(message, AlarmPressed, handle)

    return router
