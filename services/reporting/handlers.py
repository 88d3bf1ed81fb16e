"""Kafka subscriptions of the reporting service: a table of topic → read-model function."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from pydantic import BaseModel

from services.reporting import service
from services.reporting.service import Deps
from shared import events
from shared.bus.subscribers import REPORT_BATCH, On
from shared.topics import Topics

# (topic attribute, group, event, read-model function, description)
_READ_MODELS: list[tuple[str, str, type[BaseModel], Callable[..., Awaitable[None]], str]] = [
    (
        "alarms_lifecycle",
        "reporting-alarms",
        events.AlarmLifecycle,
        service.record_alarm,
        "Alarm transitions → per-alarm facts for reports",
    ),
    (
        "patrols_violations",
        "reporting-violations",
        events.ViolationRecorded,
        service.record_violation,
        "Violations → counts per kind and campaign",
    ),
    (
        "patrols_campaigns",
        "reporting-campaigns",
        events.CampaignOpened,
        service.record_campaign,
        "Campaigns set up → campaigns held in a period",
    ),
    (
        "patrols_checkins",
        "reporting-checkins",
        events.CheckinRecorded,
        service.record_checkin,
        "Check-ins at patrol points → patrol coverage of schools",
    ),
    (
        "patrols_visits",
        "reporting-visits",
        events.PointVisited,
        service.record_visit,
        "Visits to patrol points seen in positions → coverage and dwell",
    ),
    (
        "patrols_guard_posts",
        "reporting-guard-posts",
        events.GuardPostWindow,
        service.record_guard_window,
        "Guard-post windows' final outcomes → staffing rate and gaps",
    ),
    (
        "patrols_hazards",
        "reporting-hazards",
        events.HazardChanged,
        service.record_hazard,
        "Hazards' changes → found, rectified on time or late, overdue, by department and township",
    ),
    (
        "patrols_video_checks",
        "reporting-video-checks",
        events.VideoCheckRecorded,
        service.record_video_check,
        "Video patrol checks → the daily bulletin, beside the guard posts' GPS verdicts",
    ),
    (
        "patrols_community_checks",
        "reporting-community-checks",
        events.CommunityCheckRecorded,
        service.record_community_check,
        "Community checks (counts, no person) → checks, people unregistered, issues, by township",
    ),
    (
        "patrols_gate_visits",
        "reporting-gate-visits",
        events.GateVisitChanged,
        service.record_gate_visit,
        "Visitors in and out at schools' gates (no person) → visits, still inside, after hours",
    ),
    (
        "patrols_visibility",
        "reporting-visibility",
        events.SchoolWindowPatrolled,
        service.record_school_window,
        "Schools' rush-hour windows (units seen near) → police visibility per school and week",
    ),
    (
        "devices_troubles",
        "reporting-device-troubles",
        events.DeviceTrouble,
        service.record_trouble,
        "Button troubles and restorals → availability per school and township",
    ),
    (
        "activities_recorded",
        "reporting-activities",
        events.ActivityRecorded,
        service.record_activity,
        "Inspections, drills, sessions, letters → inspection and outreach figures",
    ),
]


def subscriptions(deps: Deps, topics: Topics) -> list[On]:
    return [
        On(
            getattr(topics, topic),
            group=topics.group(group),
            event=event,
            handle=partial(_record_all, record, deps),
            description=description,
            batch=REPORT_BATCH,
        )
        for topic, group, event, record, description in _READ_MODELS
    ]


async def _record_all(
    record: Callable[..., Awaitable[None]], deps: Deps, events: list[Any]
) -> None:
    await service.record_batch(deps=deps, record=record, events=events)
