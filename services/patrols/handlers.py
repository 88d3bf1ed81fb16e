"""Kafka subscribers of the patrols service: thin, they parse and call service.py."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from services.patrols import service
from services.patrols.service import Deps
from shared.bus import POSITION_BATCH, MessageProcessor
from shared.events import PositionReported


def build_router(deps: Deps, processor: MessageProcessor) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        deps.topics.patrols_positions,
        group_id=deps.topics.group("patrols-positions"),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        batch=True,
        max_records=POSITION_BATCH.max_records,
        batch_timeout_ms=POSITION_BATCH.max_wait_ms,
        fetch_min_bytes=POSITION_BATCH.min_bytes,
        fetch_max_wait_ms=POSITION_BATCH.max_wait_ms,
        description="Keeps position history and each unit's latest fix (batches, bulk writes)",
    )
    async def on_positions(message: KafkaMessage) -> None:
        async def handle(fixes: list[PositionReported]) -> None:
            await service.record_positions(deps=deps, fixes=fixes)

        await processor.process_batch(message, PositionReported, handle)

    return router
