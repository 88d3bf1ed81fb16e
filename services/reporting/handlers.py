"""Kafka subscribers of the reporting service: thin, they parse and call service.py."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from services.reporting import service
from services.reporting.service import Deps
from shared.bus import MessageProcessor, event_subscriber
from shared.events import AlarmLifecycle
from shared.topics import Topics


def build_router(deps: Deps, topics: Topics, processor: MessageProcessor) -> KafkaRouter:
    router = KafkaRouter()

    @event_subscriber(
        router,
        topics.alarms_lifecycle,
        group_id=topics.group("reporting-alarms"),
        latency_critical=False,
        description="Alarm transitions → per-alarm facts for reports",
    )
    async def on_lifecycle(message: KafkaMessage) -> None:
        async def handle(event: AlarmLifecycle) -> None:
            await service.record_alarm(deps=deps, event=event)

        await processor.process(message, AlarmLifecycle, handle)

    return router
