"""Alarm logic: device trust, durable acceptance of presses, raising or folding alarms, the
lifecycle commands, deadlines, and the outbox relay that publishes every transition."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiokafka.errors import KafkaError

from services.alarms import lifecycle
from services.alarms.journal import PressJournal
from services.alarms.lifecycle import OPEN, Refused, Timers
from services.alarms.metrics import AlarmMetrics
from services.alarms.models import (
    Alarm,
    CommandResult,
    CommandStatus,
    PressAccepted,
    PressRequest,
    TrustedDevice,
)
from services.alarms.repository import AlarmFilter, AlarmRepository
from shared.bus.background import RELAY_AFTER, Afterwards
from shared.bus.publishers import Publisher
from shared.events import AlarmCommand, AlarmLifecycle, AlarmPressed, CommandResolved, stable_id
from shared.provisioning import County
from shared.ratelimit import TokenBuckets
from shared.signing import DeviceAuthError, verify_device
from shared.topics import Topics

log = logging.getLogger(__name__)


class Rejected(Exception):
    """A request refused with an HTTP status and a machine-readable reason."""

    def __init__(self, status: int, reason: str, detail: str, *, retry_after: int = 0) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after


DEFAULT_TIMERS = Timers()


@dataclass(frozen=True)
class Deps:
    """What the alarms logic runs on; main.create_app builds it, tests build their own."""

    repo: AlarmRepository
    publisher: Publisher
    topics: Topics
    devices: Mapping[str, TrustedDevice]
    county: County
    metrics: AlarmMetrics
    signature_window_s: int
    timers: Timers = DEFAULT_TIMERS
    fold_window: timedelta = timedelta(minutes=10)
    journal: PressJournal | None = None
    publish_timeout_s: float = 2.0
    press_limiter: TokenBuckets = field(default_factory=TokenBuckets)
    # the audit record and the outbox pull after a publish: not on the way to the next press
    afterwards: Afterwards = field(default_factory=lambda: Afterwards("outbox", inline=True))


# --- ingress -------------------------------------------------------------------------------


def trusted_devices(county: County, secrets: Mapping[str, str]) -> dict[str, TrustedDevice]:
    """device_id → device with its school and secret."""
    devices = {}
    for device in county.devices:
        school = county.school(device.school_id)
        assert school is not None  # County validates references
        devices[device.device_id] = TrustedDevice(
            device.device_id, school, secrets[device.device_id]
        )
    return devices


def authenticate(
    *,
    devices: Mapping[str, TrustedDevice],
    device_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window_s: int,
) -> TrustedDevice:
    """The device that signed this request, or Rejected(401)."""

    def secret_of(device: str) -> str | None:
        trusted = devices.get(device)
        return trusted.secret if trusted else None

    try:
        verified = verify_device(
            secret_of,
            device_id=device_id,
            timestamp=timestamp,
            signature=signature,
            body=body,
            now=now,
            window_s=window_s,
        )
    except DeviceAuthError as exc:
        raise Rejected(401, exc.code, exc.message) from exc
    return devices[verified]


def authorize_press(device: TrustedDevice, request: PressRequest) -> None:
    """A device may press only as itself, for its own school."""
    if request.device_id != device.device_id:
        raise Rejected(403, "device_mismatch", "body device_id differs from X-Device-Id")
    if request.school_id != device.school.school_id:
        raise Rejected(403, "wrong_school", "device is not installed at this school")


async def refuse_replay(*, deps: Deps, signature: str, press_id: uuid.UUID, now: datetime) -> bool:
    """A signature is good once: again only as a retry of the same press (same answer).
    Returns True when the signature is new."""
    first = await deps.repo.remember_signature(signature.lower(), press_id, now=now)
    if first != press_id:
        raise Rejected(401, "replayed_signature", "signature already used for another press")
    return True


def pressed_event(request: PressRequest, now: datetime) -> AlarmPressed:
    return AlarmPressed(
        event_id=stable_id("pressed", str(request.press_id)),
        occurred_at=now,
        press_id=request.press_id,
        alarm_id=stable_id("alarm", str(request.press_id)),
        school_id=request.school_id,
        device_id=request.device_id,
        kind=request.kind,
        silent=request.silent,
        test=request.test,
        location=request.location,
        pressed_at=request.pressed_at,
        received_at=now,
    )


BROKER_DOWN = (KafkaError, TimeoutError, ConnectionError)


async def accept_press(
    *, deps: Deps, request: PressRequest, now: datetime, signature: str | None = None
) -> PressAccepted:
    """Record the press; return only once it is on the broker (acks=all) or, with the broker
    unreachable, fsync'd in the local journal that is forwarded in order when it is back.

    With the request's `signature`, the replay check runs while the press is recorded (both
    are on the path to the dispatchers), and a refused replay is never published. The
    signature covers the body, press_id included, so a signature seen before comes with the
    same press, whose record is idempotent; another press under a known signature (a forged
    HMAC) would be left recorded but unpublished, and refused."""
    recording = deps.repo.record_press(pressed_event(request, now))
    if signature is None:
        record = await recording
    else:
        record, _ = await asyncio.gather(
            recording,
            refuse_replay(deps=deps, signature=signature, press_id=request.press_id, now=now),
        )
    if record.event.device_id != request.device_id:
        raise Rejected(409, "press_id_conflict", "press_id already used by another device")
    via = "recorded"
    if not record.published:
        via = await _publish_or_journal(deps, record.event)
    deps.metrics.presses_accepted.labels(str(not record.new).lower(), via).inc()
    return PressAccepted(alarm_id=record.event.alarm_id, duplicate=not record.new)


async def _send_pressed(deps: Deps, event: AlarmPressed) -> None:
    await asyncio.wait_for(
        deps.publisher.publish(deps.topics.alarms_pressed, event.school_id, event),
        timeout=deps.publish_timeout_s,
    )
    await deps.repo.mark_press_published(event.press_id)


async def _publish_or_journal(deps: Deps, event: AlarmPressed) -> str:
    """'broker', or 'journal' when the broker did not acknowledge in time. While the journal
    has a backlog, new presses join it, so presses reach the broker in the order received."""
    if deps.journal is None:
        await _send_pressed(deps, event)
        return "broker"
    if deps.journal.backlog == 0:
        try:
            await _send_pressed(deps, event)
            return "broker"
        except BROKER_DOWN as exc:
            log.warning("broker unreachable; press journaled", extra={"error": repr(exc)})
    await deps.journal.append(event)
    deps.metrics.journal_backlog.set(deps.journal.backlog)
    return "journal"


async def forward_journal(*, deps: Deps) -> int:
    """Forward journaled presses in order; raises (and keeps them) while the broker is down."""
    if deps.journal is None or deps.journal.backlog == 0:
        return 0
    sent = await deps.journal.forward(lambda event: _send_pressed(deps, event))
    deps.metrics.journal_backlog.set(deps.journal.backlog)
    log.info("journal forwarded", extra={"presses": sent})
    return sent


# --- raising and folding -------------------------------------------------------------------


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
        alarm, changes, event=event, add_alias=pressed.alarm_id
    )
    if folded is not None:
        deps.metrics.presses_folded.inc()
    return folded


# --- commands, deadlines -------------------------------------------------------------------


async def apply_command(*, deps: Deps, command: AlarmCommand, now: datetime) -> CommandResult:
    """Apply a command once (by command_id) if the state machine allows it; record the result."""
    known = await deps.repo.result(command.command_id)
    if known is not None:
        await _tell_result(deps, command, known)  # again: a crash may have come before
        return known
    order = lifecycle.Command(
        action=command.action,
        actor=command.actor,
        role=command.role,
        unit_id=command.unit_id,
        outcome=command.outcome,
        reason=command.reason,
    )
    alarm: Alarm | None
    status: CommandStatus
    try:
        alarm = await _transition(deps, command.alarm_id, order, now, command_id=command.command_id)
        status, reason = "applied", None
        if command.action == "escalate" and command.reason:
            deps.metrics.escalations.labels(command.reason, test_label(alarm.test)).inc()
    except Refused as exc:
        alarm = await deps.repo.get(command.alarm_id)
        status, reason = ("forbidden" if exc.forbidden else "refused"), exc.reason
    result = CommandResult(
        command_id=command.command_id,
        alarm_id=command.alarm_id,
        action=command.action,
        actor=command.actor,
        status=status,
        reason=reason,
        state=alarm.state if alarm else None,
        at=now,
    )
    await deps.repo.save_result(result)
    deps.metrics.commands.labels(command.action, status).inc()
    await _tell_result(deps, command, result)
    return result


async def _tell_result(deps: Deps, command: AlarmCommand, result: CommandResult) -> None:
    """Publish a refusal and its reason: those who sent the command through the bus (the
    console via notifications, a unit's acceptance) learn of it from there. An applied command
    shows as the alarm's transition (its lifecycle event carries the command_id)."""
    if result.status in ("pending", "applied"):
        return
    told = CommandResolved(
        event_id=stable_id("command-result", str(command.command_id)),
        command_id=command.command_id,
        alarm_id=command.alarm_id,
        action=command.action,
        actor=command.actor,
        role=command.role,
        unit_id=command.unit_id,
        status=result.status,
        reason=result.reason,
        state=result.state,
    )
    await deps.publisher.publish(deps.topics.alarms_command_results, str(command.alarm_id), told)


async def _transition(
    deps: Deps,
    alarm_id: uuid.UUID,
    order: lifecycle.Command,
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
        decision = lifecycle.decide(alarm.view(), order, now=now, timers=deps.timers)
        changes = decision.updates | {"state": decision.state, "state_since": now}
        event = lifecycle_event(
            alarm.model_copy(update=changes),
            state=decision.state,
            previous=alarm.state,
            version=alarm.version + 1,
            at=now,
            actor=order.actor,
            reason=decision.reason or order.reason,
            command_id=command_id,
        )
        updated = await deps.repo.compare_and_set(
            alarm, changes, event=event, command_id=command_id
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
        order = lifecycle.Command(action="escalate", actor="timer", role="system", reason=reason)
        try:
            await _transition(deps, alarm.alarm_id, order, now)
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
        await deps.afterwards.run(_settle(deps, alarm))


async def _settle(deps: Deps, alarm: Alarm) -> None:
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
    round of its own (main.OPEN_GAUGE_S): in the 0.5 s ticker it cost the database 7-34 ms a
    round beside the alarm path, with the bench's 300 open alarms."""
    counts = await deps.repo.count_open_by_state()
    for state in sorted(OPEN):
        for test in (False, True):
            deps.metrics.open_alarms.labels(state, test_label(test)).set(
                counts.get((state, test), 0)
            )


# --- reads ---------------------------------------------------------------------------------


async def get(*, deps: Deps, alarm_id: uuid.UUID) -> Alarm | None:
    return await deps.repo.get(alarm_id)


async def find(*, deps: Deps, query: AlarmFilter) -> list[Alarm]:
    return await deps.repo.find(query)
