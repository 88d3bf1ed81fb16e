"""Kafka subscriptions of the patrols service: a table of topic → service function."""

from __future__ import annotations

from services.patrols import enforcement_service, service
from services.patrols.deps import Deps
from shared.bus.subscribers import POSITION_BATCH, On
from shared.events import CheckinRecorded, PositionReported, ViolationRecorded


def subscriptions(deps: Deps) -> list[On]:
    topics = deps.topics
    return [
        On(
            topics.patrols_positions,
            group=topics.group("patrols-positions"),
            event=PositionReported,
            handle=lambda fixes: service.record_positions(deps=deps, fixes=fixes),
            description="Keeps position history and each unit's latest fix (batches, bulk writes)",
            batch=POSITION_BATCH,
        ),
        On(
            topics.patrols_violations,
            group=topics.group("patrols-violations"),
            event=ViolationRecorded,
            handle=lambda event: enforcement_service.store_violation(deps=deps, event=event),
            description="Keeps every violation once (by violation_id)",
        ),
        On(
            topics.patrols_checkins,
            group=topics.group("patrols-checkins"),
            event=CheckinRecorded,
            handle=lambda event: enforcement_service.store_checkin(deps=deps, event=event),
            description="Keeps every check-in once (by checkin_id)",
        ),
    ]
