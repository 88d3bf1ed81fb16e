"""Kafka subscribers of the notifications service: thin, they parse and call service.py."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from services.notifications import service
from services.notifications.service import Deps
from shared.bus import FAST_FETCH_WAIT_MS, POSITION_BATCH, MessageProcessor
from shared.events import AlarmLifecycle, PositionReported, utcnow
from shared.topics import Topics


def build_router(deps: Deps, topics: Topics, processor: MessageProcessor) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        topics.alarms_lifecycle,
        group_id=topics.group("notifications-alarms"),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FAST_FETCH_WAIT_MS,
        description="Alarm transitions → dispatcher feed, with the nearest units on `raised`",
    )
    async def on_lifecycle(message: KafkaMessage) -> None:
        async def handle(event: AlarmLifecycle) -> None:
            await service.on_lifecycle(deps=deps, event=event, now=utcnow())

        await processor.process(message, AlarmLifecycle, handle)

    @router.subscriber(
        topics.patrols_positions,
        group_id=topics.group("notifications-positions"),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        batch=True,
        max_records=POSITION_BATCH.max_records,
        batch_timeout_ms=POSITION_BATCH.max_wait_ms,
        fetch_min_bytes=POSITION_BATCH.min_bytes,
        fetch_max_wait_ms=POSITION_BATCH.max_wait_ms,
        description="Keeps the latest position of every unit (read model for nearest-unit search)",
    )
    async def on_positions(message: KafkaMessage) -> None:
        async def handle(fixes: list[PositionReported]) -> None:
            await service.record_positions(deps=deps, fixes=fixes)

        await processor.process_batch(message, PositionReported, handle)

    return router
