"""Kafka subscribers of the notifications service: thin, they parse and call service.py."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from services.notifications import service
from services.notifications.service import Deps
from shared.bus import READ_MODEL_BATCH, MessageProcessor, batch_subscriber, event_subscriber
from shared.events import (
    AlarmLifecycle,
    CommandResolved,
    GuardPostWindow,
    PositionReported,
    UnitStatusChanged,
    utcnow,
)
from shared.topics import Topics


def build_router(deps: Deps, topics: Topics, processor: MessageProcessor) -> KafkaRouter:
    router = KafkaRouter()

    @event_subscriber(
        router,
        topics.alarms_lifecycle,
        group_id=topics.group("notifications-alarms"),
        latency_critical=True,
        # keyed by alarm: one alarm's events in order, alarms side by side; numbers are taken
        # and stored in turn (sequences.NumberedWrites), so streams still resume losslessly
        partitions_at_once=topics.partitions()[topics.alarms_lifecycle],
        description="Alarm transitions → dispatcher feed, with the nearest units on `raised`",
    )
    async def on_lifecycle(message: KafkaMessage) -> None:
        async def handle(event: AlarmLifecycle) -> None:
            await service.on_lifecycle(deps=deps, event=event, now=utcnow())

        await processor.process(message, AlarmLifecycle, handle)

    @event_subscriber(
        router,
        topics.alarms_command_results,
        group_id=topics.group("notifications-command-results"),
        latency_critical=True,
        description="Refused commands → the dispatcher feed; a refused acceptance closes the order",
    )
    async def on_command_result(message: KafkaMessage) -> None:
        async def handle(result: CommandResolved) -> None:
            await service.on_command_result(deps=deps, result=result, now=utcnow())

        await processor.process(message, CommandResolved, handle)

    @event_subscriber(
        router,
        topics.patrols_guard_posts,
        group_id=topics.group("notifications-guard-posts"),
        latency_critical=False,
        description="A guard post empty in its window → an entry of its own in the dispatcher feed",
    )
    async def on_guard_post(message: KafkaMessage) -> None:
        async def handle(window: GuardPostWindow) -> None:
            await service.on_guard_post(deps=deps, window=window)

        await processor.process(message, GuardPostWindow, handle)

    @batch_subscriber(
        router,
        topics.patrols_positions,
        group_id=topics.group("notifications-positions"),
        shape=READ_MODEL_BATCH,
        description="Keeps the latest position of every unit (read model for nearest-unit search)",
    )
    async def on_positions(message: KafkaMessage) -> None:
        async def handle(fixes: list[PositionReported]) -> None:
            await service.record_positions(deps=deps, fixes=fixes)

        await processor.process_batch(message, PositionReported, handle)

    @event_subscriber(
        router,
        topics.patrols_unit_status,
        group_id=topics.group("notifications-unit-status"),
        latency_critical=False,
        description="Keeps each unit's status: only available units and guard posts are sent",
    )
    async def on_unit_status(message: KafkaMessage) -> None:
        async def handle(change: UnitStatusChanged) -> None:
            await service.record_status(deps=deps, change=change)

        await processor.process(message, UnitStatusChanged, handle)

    return router
