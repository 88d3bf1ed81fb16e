"""Alarm commands: sent by the API to the single writer of each alarm, applied there once
(by command_id) through the state machine, their results recorded and refusals told."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

from services.alarms import lifecycle
from services.alarms.deps import Deps
from services.alarms.lifecycle import Refused
from services.alarms.models import Alarm, CommandResult, CommandStatus
from services.alarms.service import test_label, transition
from shared.carry import carry
from shared.events import AlarmCommand, CommandResolved, stable_id


class NoSuchAlarm(LookupError):
    """No alarm has this id, nor a press folded into one."""


async def send(
    *,
    deps: Deps,
    alarm_id: uuid.UUID,
    actor: str,
    role: str,
    action: str,
    command_id: uuid.UUID | None,
    reason: str | None,
    wait_s: float,
    **fields: str | None,
) -> CommandResult:
    """Send a command to the single writer of its alarm (alarms.commands) and wait up to
    `wait_s` for its result; status `pending` when it has not come by then."""
    alarm = await deps.repo.get(alarm_id)
    if alarm is None:
        raise NoSuchAlarm(alarm_id)
    command = AlarmCommand.model_validate(
        {
            "command_id": command_id or uuid.uuid4(),
            "alarm_id": alarm.alarm_id,
            "action": action,
            "actor": actor,
            "role": role,
            "reason": reason,
            **fields,
        }
    )
    await deps.publisher.publish(deps.topics.alarms_commands, str(alarm.alarm_id), command)
    result = await wait_for_result(deps=deps, command_id=command.command_id, wait_s=wait_s)
    return result or carry(CommandResult, command, status="pending", reason=None)


async def wait_for_result(
    *, deps: Deps, command_id: uuid.UUID, wait_s: float
) -> CommandResult | None:
    """The command's result once recorded, polling with a growing pause; None after `wait_s`."""
    deadline = time.monotonic() + wait_s
    pause = 0.01
    while time.monotonic() < deadline:
        result = await deps.repo.result(command_id)
        if result is not None:
            return result
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 0.2)
    return None


async def apply_command(*, deps: Deps, command: AlarmCommand, now: datetime) -> CommandResult:
    """Apply a command once (by command_id) if the state machine allows it; record the result."""
    known = await deps.repo.result(command.command_id)
    if known is not None:
        await _tell_result(deps, command, known)  # again: a crash may have come before
        return known
    step = lifecycle.Command.of(command)
    alarm: Alarm | None
    status: CommandStatus
    try:
        alarm = await transition(deps, command.alarm_id, step, now, command_id=command.command_id)
        status, reason = "applied", None
        if command.action == "escalate" and command.reason:
            deps.metrics.escalations.labels(command.reason, test_label(alarm.test)).inc()
    except Refused as exc:
        alarm = await deps.repo.get(command.alarm_id)
        status, reason = ("forbidden" if exc.forbidden else "refused"), exc.reason
    state = alarm.state if alarm else None
    result = carry(CommandResult, command, status=status, reason=reason, state=state, at=now)
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
    told = carry(
        CommandResolved,
        command,
        event_id=stable_id("command-result", str(command.command_id)),
        status=result.status,
        reason=result.reason,
        state=result.state,
    )
    await deps.publisher.publish(deps.topics.alarms_command_results, str(command.alarm_id), told)
