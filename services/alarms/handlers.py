"""Kafka subscriptions of the alarms service: a table of topic → service function."""

from __future__ import annotations

from services.alarms import commands_service, service
from services.alarms.deps import Deps
from shared.bus.subscribers import On
from shared.events import AlarmCommand, AlarmPressed, utcnow


def subscriptions(deps: Deps) -> list[On]:
    topics = deps.topics
    partitions = topics.partitions()
    return [
        On(
            topics.alarms_pressed,
            group=topics.group("alarms-raise"),
            event=AlarmPressed,
            handle=lambda pressed: service.raise_alarm(deps=deps, pressed=pressed, now=utcnow()),
            description=(
                "Raises one alarm per accepted press, or folds it into the school's open one"
            ),
            latency_critical=True,
            # keyed by school: one school's presses in order, schools' side by side (bursts)
            partitions_at_once=partitions[topics.alarms_pressed],
        ),
        On(
            topics.alarms_commands,
            group=topics.group("alarms-commands"),
            event=AlarmCommand,
            handle=lambda command: commands_service.apply_command(
                deps=deps, command=command, now=utcnow()
            ),
            description="Applies dispatcher, unit and system commands through the state machine",
            latency_critical=True,
            # keyed by alarm: one alarm's commands in order, alarms side by side (notifications
            # sends one or two per alarm: dispatch, and assign when a unit accepts)
            partitions_at_once=partitions[topics.alarms_commands],
        ),
    ]
