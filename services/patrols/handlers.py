"""Kafka subscribers of the patrols service: thin, they parse and call service.py."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from services.patrols import service
from services.patrols.service import Deps
from shared.bus import MessageProcessor
from shared.events import PositionReported


def build_router(deps: Deps, processor: MessageProcessor) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        deps.topics.patrols_positions,
        group_id=deps.topics.group("patrols-positions"),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        description="Keeps position history and each unit's latest fix",
    )
    async def on_position(message: KafkaMessage) -> None:
        async def handle(fix: PositionReported) -> None:
            await service.record_position(deps=deps, fix=fix)

        await processor.process(message, PositionReported, handle)

    return router
