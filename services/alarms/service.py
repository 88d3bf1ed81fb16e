"""Alarms: raising an alarm per press (or folding the press into the alarm open at its
school), transitions through the state machine, deadlines, and the outbox relay that
publishes every transition. Beside it: presses_service (device trust and durable acceptance
of presses) and commands_service (commands sent, applied once, their results)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from typing import Any

from services.alarms import lifecycle
from services.alarms.deps import Deps
from services.alarms.lifecycle import OPEN, Refused
from services.alarms.models import Alarm, AlarmChange
from services.alarms.repository import AlarmFilter
from shared.bus.background import RELAY_AFTER
from shared.events import AlarmLifecycle, AlarmPressed, stable_id

log = logging.getLogger(__name__)


def lifecycle_event(
    alarm: Alarm,
    *,
    state: str,
    previous: str | None,
    version: int,
    at: datetime,
    actor: str = "system",
    reason: str | None = None,
    change: str = "transition",
    command_id: uuid.UUID | None = None,
) -> AlarmLifecycle:
    """The event for one change of an alarm; its id derives from (alarm, version), so the
    relay may publish it more than once and consumers still see it once."""
    return AlarmLifecycle.model_validate(
        {
            "event_id": stable_id("lifecycle", str(alarm.alarm_id), str(version)),
            "occurred_at": at,
            "alarm_id": alarm.alarm_id,
            "state": state,
            "previous_state": previous,
            "school": alarm.school,
            "kind": alarm.kind,
            "kinds": alarm.kinds or [alarm.kind],
            "silent": alarm.silent,
            "test": alarm.test,
            "location": alarm.location,
            "device_id": alarm.device_id,
            "pressed_at": alarm.pressed_at,
            "received_at": alarm.received_at,
            "actor": actor,
            "reason": reason,
            "change": change,
            "press_count": alarm.press_count,
            "severity": alarm.severity,
            "devices": alarm.devices,
            "assigned_unit": alarm.assigned_unit,
            "outcome": alarm.outcome,
            "escalation_level": alarm.escalation_level,
            "command_id": command_id,
        }
    )


async def raise_alarm(*, deps: Deps, pressed: AlarmPressed, now: datetime) -> Alarm:
    """One alarm per press, or the press folded into the alarm open at its school. Whether the
    press was handled before and which alarm is open there are asked at once: both lie on
    the path from the press to the dispatchers."""
    school = deps.county.school(pressed.school_id)
    if school is None:
        raise ValueError(f"press for unknown school {pressed.school_id}")

    async def open_alarm_at_school() -> Alarm | None:
        return await deps.repo.open_at_school(
            pressed.school_id, test=pressed.test, since=now - deps.fold_window
        )

    existing, open_alarm = await asyncio.gather(
        deps.repo.get(pressed.alarm_id), open_alarm_at_school()
    )
    if existing is not None:  # redelivery: finish what may have been interrupted
        await relay(deps=deps, alarm=existing)
        return existing
    while True:
        if open_alarm is None:
            alarm = await _create(deps, pressed, school.ref(), now)
            break
        folded = await _fold(deps, open_alarm, pressed, now)
        if folded is not None:
            alarm = folded
            break
        open_alarm = await open_alarm_at_school()  # it changed meanwhile: look again
    await relay(deps=deps, alarm=alarm)
    return alarm


async def _create(deps: Deps, pressed: AlarmPressed, school: Any, now: datetime) -> Alarm:
    fresh = Alarm.from_press(pressed, school, now).model_copy(
        update=lifecycle.initial_deadlines(now, deps.timers)
    )
    raised = lifecycle_event(fresh, state="raised", previous=None, version=0, at=now)
    alarm = await deps.repo.create_alarm(fresh.model_copy(update={"outbox": [raised]}))
    deps.metrics.alarms_raised.labels(alarm.kind, str(alarm.test).lower()).inc()
    return alarm


async def _fold(deps: Deps, alarm: Alarm, pressed: AlarmPressed, now: datetime) -> Alarm | None:
    """Another press at a school with an open alarm: count it, note the device, the spot and
    its kind; a second device raises the severity. None if the alarm changed meanwhile. An
    alarm that holds the press already (raised by it, or joined by it) is returned as it is:
    another instance handled the same press at the same time (a rebalance)."""
    if pressed.alarm_id == alarm.alarm_id or pressed.alarm_id in alarm.press_alarm_ids:
        return alarm
    devices = (
        alarm.devices if pressed.device_id in alarm.devices else [*alarm.devices, pressed.device_id]
    )
    locations = (
        alarm.locations
        if pressed.location in alarm.locations
        else [*alarm.locations, pressed.location]
    )
    kinds = alarm.kinds or [alarm.kind]
    if pressed.kind not in kinds:
        kinds = [*kinds, pressed.kind]
    changes: dict[str, Any] = {
        "press_count": alarm.press_count + 1,
        "devices": devices,
        "locations": locations,
        "severity": len(devices),
        "kinds": kinds,
    }
    after = alarm.model_copy(update=changes)
    event = lifecycle_event(
        after,
        state=alarm.state,
        previous=alarm.state,
        version=alarm.version + 1,
        at=now,
        change="folded",
        reason=f"{pressed.kind} press {pressed.press_id} from {pressed.device_id}",
    )
    folded = await deps.repo.compare_and_set(
        alarm, AlarmChange(changes, event, alias=pressed.alarm_id)
    )
    if folded is not None:
        deps.metrics.presses_folded.inc()
    return folded


async def transition(
    deps: Deps,
    alarm_id: uuid.UUID,
    step: lifecycle.Command,
    now: datetime,
    *,
    command_id: uuid.UUID | None = None,
) -> Alarm:
    """Decide and apply one transition with compare-and-set; retried if the alarm changed."""
    while True:
        alarm = await deps.repo.get(alarm_id)
        if alarm is None:
            raise Refused("no such alarm")
        if command_id is not None and str(command_id) in alarm.applied_commands:
            return alarm  # applied before a crash; only the result was not recorded
        decision = lifecycle.decide(alarm.view(), step, now=now, timers=deps.timers)
        changes = decision.updates | {"state": decision.state, "state_since": now}
        event = lifecycle_event(
            alarm.model_copy(update=changes),
            state=decision.state,
            previous=alarm.state,
            version=alarm.version + 1,
            at=now,
            actor=step.actor,
            reason=decision.reason or step.reason,
            command_id=command_id,
        )
        updated = await deps.repo.compare_and_set(
            alarm, AlarmChange(changes, event, command_id=command_id)
        )
        if updated is not None:
            deps.metrics.state_seconds.labels(decision.state).observe(
                max(0.0, (now - updated.received_at).total_seconds())
            )
            await relay(deps=deps, alarm=updated)
            return updated


def test_label(test: bool) -> str:
    """The `test` label: tests and drills are counted apart, and the alert rules ignore them."""
    return "true" if test else "false"


async def escalate_due(*, deps: Deps, now: datetime) -> int:
    """Escalate every alarm whose deadline passed; each deadline fires once (compare-and-set),
    also for deadlines that passed while the service was down."""
    fired = 0
    for alarm in await deps.repo.due(now, limit=200):
        reason = lifecycle.due_escalation(alarm.view(), now)
        if reason is None:
            continue
        step = lifecycle.Command(action="escalate", actor="timer", role="system", reason=reason)
        try:
            await transition(deps, alarm.alarm_id, step, now)
        except Refused:
            continue  # somebody acted first; nothing is due any more
        deps.metrics.escalations.labels(reason, test_label(alarm.test)).inc()
        fired += 1
    return fired


async def relay(*, deps: Deps, alarm: Alarm) -> None:
    """Publish the alarm's pending lifecycle events in order. Each leaves the outbox only
    once it is both published and in the audit trail. Those two writes come after the
    publish, in `deps.afterwards`: off the way to the dispatchers and to the next message.
    Until they are done the event stays in the outbox, and the ticker publishes it again
    (same event id: consumers take it once)."""
    for event in alarm.outbox:
        await deps.publisher.publish(deps.topics.alarms_lifecycle, str(alarm.alarm_id), event)
    if alarm.outbox:
        await deps.afterwards.run(_retire_outbox(deps, alarm))


async def _retire_outbox(deps: Deps, alarm: Alarm) -> None:
    for event in alarm.outbox:
        await deps.repo.append_audit(event)
        await deps.repo.pull_outbox(alarm.alarm_id, event.event_id)


async def tick(*, deps: Deps, now: datetime) -> None:
    """What the background ticker does: fire deadlines, relay leftovers (events the handler's
    own publish has not settled within RELAY_AFTER)."""
    await escalate_due(deps=deps, now=now)
    pending = await deps.repo.with_outbox(older_than=now - RELAY_AFTER, limit=200)
    deps.metrics.outbox_backlog.set(len(pending))
    for alarm in pending:
        await relay(deps=deps, alarm=alarm)


async def count_open(*, deps: Deps) -> None:
    """Refresh the open-alarms gauge. Its aggregate over the open alarms runs in a slower
    round of its own (main.OPEN_GAUGE_S), off the ticker on the alarm path."""
    counts = await deps.repo.count_open_by_state()
    for state in sorted(OPEN):
        for test in (False, True):
            deps.metrics.open_alarms.labels(state, test_label(test)).set(
                counts.get((state, test), 0)
            )


async def get(*, deps: Deps, alarm_id: uuid.UUID) -> Alarm | None:
    return await deps.repo.get(alarm_id)


async def find(*, deps: Deps, query: AlarmFilter) -> list[Alarm]:
    return await deps.repo.find(query)
