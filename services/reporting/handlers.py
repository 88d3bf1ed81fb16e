"""Kafka subscribers of the reporting service: thin, they parse and call service.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel

from services.reporting import service
from services.reporting.service import Deps
from shared.bus import MessageProcessor, event_subscriber
from shared.events import (
    ActivityRecorded,
    AlarmLifecycle,
    CampaignOpened,
    CheckinRecorded,
    GuardPostWindow,
    PointVisited,
    ViolationRecorded,
)
from shared.topics import Topics


def build_router(deps: Deps, topics: Topics, processor: MessageProcessor) -> KafkaRouter:
    router = KafkaRouter()

    def fold(
        topic: str,
        group: str,
        event_type: type[BaseModel],
        record: Callable[..., Awaitable[None]],
        description: str,
    ) -> None:
        """One subscriber: each event of `topic` goes into a read model through `record`."""

        @event_subscriber(
            router,
            topic,
            group_id=topics.group(group),
            latency_critical=False,
            description=description,
        )
        async def on_event(message: KafkaMessage) -> None:
            async def handle(event: Any) -> None:
                await record(deps=deps, event=event)

            await processor.process(message, event_type, handle)

    fold(
        topics.alarms_lifecycle,
        "reporting-alarms",
        AlarmLifecycle,
        service.record_alarm,
        "Alarm transitions → per-alarm facts for reports",
    )
    fold(
        topics.patrols_violations,
        "reporting-violations",
        ViolationRecorded,
        service.record_violation,
        "Violations → counts per kind and campaign",
    )
    fold(
        topics.patrols_campaigns,
        "reporting-campaigns",
        CampaignOpened,
        service.record_campaign,
        "Campaigns set up → campaigns held in a period",
    )
    fold(
        topics.patrols_checkins,
        "reporting-checkins",
        CheckinRecorded,
        service.record_checkin,
        "Check-ins at patrol points → patrol coverage of schools",
    )
    fold(
        topics.patrols_visits,
        "reporting-visits",
        PointVisited,
        service.record_visit,
        "Visits to patrol points seen in positions → coverage and dwell",
    )
    fold(
        topics.patrols_guard_posts,
        "reporting-guard-posts",
        GuardPostWindow,
        service.record_guard_window,
        "Guard-post windows' final outcomes → staffing rate and gaps",
    )
    fold(
        topics.activities_recorded,
        "reporting-activities",
        ActivityRecorded,
        service.record_activity,
        "Inspections, drills, sessions, letters → inspection and outreach figures",
    )
    return router
