"""Kafka subscriptions of the notifications service: a table of topic → service function."""

from __future__ import annotations

from services.notifications import service
from services.notifications.service import Deps
from shared.bus.subscribers import READ_MODEL_BATCH, On
from shared.events import (
    AlarmLifecycle,
    CommandResolved,
    DeviceTrouble,
    GuardPostWindow,
    PositionReported,
    SchoolPlanChanged,
    UnitStatusChanged,
    utcnow,
)
from shared.topics import Topics


def subscriptions(deps: Deps, topics: Topics) -> list[On]:
    return [
        On(
            topics.alarms_lifecycle,
            group=topics.group("notifications-alarms"),
            event=AlarmLifecycle,
            handle=lambda event: service.on_lifecycle(deps=deps, event=event, now=utcnow()),
            description="Alarm transitions → dispatcher feed, with the nearest units on `raised`",
            latency_critical=True,
            # keyed by alarm: one alarm's events in order, alarms side by side; the feed log
            # gives every entry its position, so streams still resume losslessly
            partitions_at_once=topics.partitions()[topics.alarms_lifecycle],
        ),
        On(
            topics.alarms_command_results,
            group=topics.group("notifications-command-results"),
            event=CommandResolved,
            handle=lambda result: service.on_command_result(deps=deps, result=result, now=utcnow()),
            description=(
                "Refused commands → the dispatcher feed; a refused acceptance closes the order"
            ),
            latency_critical=True,
        ),
        On(
            topics.patrols_guard_posts,
            group=topics.group("notifications-guard-posts"),
            event=GuardPostWindow,
            handle=lambda window: service.on_guard_post(deps=deps, window=window),
            description=(
                "A guard post empty in its window → an entry of its own in the dispatcher feed"
            ),
        ),
        On(
            topics.devices_troubles,
            group=topics.group("notifications-device-troubles"),
            event=DeviceTrouble,
            handle=lambda trouble: service.on_device_trouble(deps=deps, trouble=trouble),
            description=(
                "A button's trouble or restoral → an entry of its own in the dispatcher feed"
            ),
        ),
        On(
            topics.patrols_positions,
            group=topics.group("notifications-positions"),
            event=PositionReported,
            handle=lambda fixes: service.record_positions(deps=deps, fixes=fixes),
            description=(
                "Keeps the latest position of every unit (read model for nearest-unit search)"
            ),
            batch=READ_MODEL_BATCH,
        ),
        On(
            topics.patrols_unit_status,
            group=topics.group("notifications-unit-status"),
            event=UnitStatusChanged,
            handle=lambda change: service.record_status(deps=deps, change=change),
            description="Keeps each unit's status: only available units and guard posts are sent",
        ),
        On(
            topics.patrols_school_plans,
            group=topics.group("notifications-school-plans"),
            event=SchoolPlanChanged,
            handle=lambda plan: service.on_school_plan(deps=deps, plan=plan),
            description="Keeps each school's newest plan: shown with every alarm at that school",
        ),
    ]
