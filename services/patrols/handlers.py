"""Kafka subscribers of the patrols service: thin, they parse and call service.py."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from services.patrols import service
from services.patrols.service import Deps
from shared.bus import POSITION_BATCH, MessageProcessor, batch_subscriber, event_subscriber
from shared.events import CheckinRecorded, PositionReported, ViolationRecorded


def build_router(deps: Deps, processor: MessageProcessor) -> KafkaRouter:
    router = KafkaRouter()

    @batch_subscriber(
        router,
        deps.topics.patrols_positions,
        group_id=deps.topics.group("patrols-positions"),
        shape=POSITION_BATCH,
        description="Keeps position history and each unit's latest fix (batches, bulk writes)",
    )
    async def on_positions(message: KafkaMessage) -> None:
        async def handle(fixes: list[PositionReported]) -> None:
            await service.record_positions(deps=deps, fixes=fixes)

        await processor.process_batch(message, PositionReported, handle)

    @event_subscriber(
        router,
        deps.topics.patrols_violations,
        group_id=deps.topics.group("patrols-violations"),
        latency_critical=False,
        description="Keeps every violation once (by violation_id)",
    )
    async def on_violation(message: KafkaMessage) -> None:
        async def handle(event: ViolationRecorded) -> None:
            await service.store_violation(deps=deps, event=event)

        await processor.process(message, ViolationRecorded, handle)

    @event_subscriber(
        router,
        deps.topics.patrols_checkins,
        group_id=deps.topics.group("patrols-checkins"),
        latency_critical=False,
        description="Keeps every check-in once (by checkin_id)",
    )
    async def on_checkin(message: KafkaMessage) -> None:
        async def handle(event: CheckinRecorded) -> None:
            await service.store_checkin(deps=deps, event=event)

        await processor.process(message, CheckinRecorded, handle)

    return router
