"""The alarm state machine (DESIGN §3): which command may move an alarm from which state, who
may give it, and what it changes. Pure: no I/O, so every rule is unit-tested directly.

raised → dispatched → acknowledged → unit_assigned → en_route → on_scene → resolved, with
cancelled (false alarm, test, drill) and escalated (a deadline passed) from any open state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from shared.auth import Role
from shared.commands import CancelOutcome, ResolveOutcome
from shared.events import AlarmState, CommandAction

Action = CommandAction
EscalationReason = Literal["no_acknowledgement", "no_unit_on_scene", "no_unit_in_range"]

OPEN: frozenset[AlarmState] = frozenset(
    {"raised", "dispatched", "acknowledged", "unit_assigned", "en_route", "on_scene", "escalated"}
)
CLOSED: frozenset[AlarmState] = frozenset({"resolved", "cancelled"})

# From which states each action may be taken. `escalated` keeps the alarm's progress in the
# record (acknowledged_at, assigned_unit), so the preconditions below decide what may follow.
ALLOWED_FROM: dict[Action, frozenset[AlarmState]] = {
    "dispatch": frozenset({"raised"}),
    "acknowledge": frozenset({"raised", "dispatched", "escalated"}),
    "assign": frozenset(
        {"raised", "dispatched", "acknowledged", "unit_assigned", "en_route", "escalated"}
    ),
    "en_route": frozenset({"unit_assigned", "escalated"}),
    "on_scene": frozenset({"unit_assigned", "en_route", "escalated"}),
    "resolve": OPEN,
    "cancel": OPEN,
    "escalate": OPEN - {"on_scene"},
}
DISPATCH_ROLES: frozenset[Role] = frozenset({"dispatcher", "supervisor", "admin"})
WHO_MAY: dict[Action, frozenset[str]] = {
    "dispatch": frozenset({"system"}) | DISPATCH_ROLES,
    "acknowledge": DISPATCH_ROLES,
    # system: notifications, for a unit that accepted the order it was sent
    "assign": frozenset({"system"}) | DISPATCH_ROLES,
    "en_route": frozenset({"unit"}) | DISPATCH_ROLES,
    "on_scene": frozenset({"unit"}) | DISPATCH_ROLES,
    # a unit: the one assigned, once on scene (the officer who handled it reports the outcome)
    "resolve": frozenset({"unit"}) | DISPATCH_ROLES,
    "cancel": DISPATCH_ROLES,
    "escalate": frozenset({"system"}),
}


@dataclass(frozen=True)
class Timers:
    """Deadlines (settings ACK_TIMEOUT_S, ON_SCENE_TIMEOUT_S, ESCALATION_STEP_S)."""

    ack_timeout: timedelta = timedelta(seconds=30)
    on_scene_timeout: timedelta = timedelta(minutes=15)
    escalation_step: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class AlarmView:
    """What the rules need to know of an alarm."""

    state: AlarmState
    acknowledged: bool
    assigned_unit: str | None
    escalation_level: int
    ack_deadline: datetime | None
    on_scene_deadline: datetime | None


@dataclass(frozen=True)
class Command:
    action: Action
    actor: str
    role: str
    unit_id: str | None = None
    outcome: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, source: object) -> Command:
        """The command as the rules read it, from anything with these attributes."""
        return cls(**{field.name: getattr(source, field.name) for field in fields(cls)})


@dataclass(frozen=True)
class Decision:
    """The new state and the fields to set on the alarm."""

    state: AlarmState
    updates: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


class Refused(Exception):
    """A command the state machine does not allow; `reason` says why. `forbidden`: the actor
    may not give it (role, or another unit's assignment), rather than the state forbidding it."""

    def __init__(self, reason: str, *, forbidden: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.forbidden = forbidden


def initial_deadlines(raised_at: datetime, timers: Timers) -> dict[str, Any]:
    return {
        "ack_deadline": raised_at + timers.ack_timeout,
        "on_scene_deadline": raised_at + timers.on_scene_timeout,
        "escalation_level": 0,
    }


def decide(alarm: AlarmView, command: Command, *, now: datetime, timers: Timers) -> Decision:
    """Apply the rules; raises Refused with the reason when the command may not be applied."""
    action = command.action
    if command.role not in WHO_MAY[action]:
        raise Refused(f"role {command.role} may not {action}", forbidden=True)
    if alarm.state in CLOSED:
        raise Refused(f"alarm is {alarm.state}")
    if alarm.state not in ALLOWED_FROM[action]:
        raise Refused(f"cannot {action} an alarm that is {alarm.state}")
    return _RULES[action](alarm, command, now, timers)


def _dispatch(alarm: AlarmView, command: Command, now: datetime, timers: Timers) -> Decision:
    return Decision("dispatched")


def _acknowledge(alarm: AlarmView, command: Command, now: datetime, timers: Timers) -> Decision:
    if alarm.acknowledged:
        raise Refused("already acknowledged")
    return Decision(
        "acknowledged",
        {"acknowledged_at": now, "acknowledged_by": command.actor, "ack_deadline": None},
    )


def _assign(alarm: AlarmView, command: Command, now: datetime, timers: Timers) -> Decision:
    if not command.unit_id:
        raise Refused("assign needs a unit_id")
    if command.unit_id == alarm.assigned_unit:
        raise Refused(f"unit {command.unit_id} is already assigned")
    updates: dict[str, Any] = {"assigned_unit": command.unit_id, "assigned_at": now}
    if not alarm.acknowledged:  # assigning a unit is acknowledging the alarm
        updates |= {"acknowledged_at": now, "acknowledged_by": command.actor, "ack_deadline": None}
    return Decision("unit_assigned", updates)


def _own_assignment(alarm: AlarmView, command: Command) -> None:
    if alarm.assigned_unit is None:
        raise Refused("no unit is assigned")
    if command.role == "unit" and command.actor != alarm.assigned_unit:
        raise Refused(f"unit {command.actor} is not the assigned unit", forbidden=True)


def _en_route(alarm: AlarmView, command: Command, now: datetime, timers: Timers) -> Decision:
    _own_assignment(alarm, command)
    return Decision("en_route", {"en_route_at": now})


def _on_scene(alarm: AlarmView, command: Command, now: datetime, timers: Timers) -> Decision:
    _own_assignment(alarm, command)
    return Decision(
        "on_scene", {"on_scene_at": now, "on_scene_deadline": None, "ack_deadline": None}
    )


Rule = Callable[[AlarmView, Command, datetime, Timers], Decision]


def _close(state: AlarmState, outcomes: tuple[str, ...]) -> Rule:
    def rule(alarm: AlarmView, command: Command, now: datetime, timers: Timers) -> Decision:
        if command.role == "unit":
            _own_assignment(alarm, command)
            if alarm.state != "on_scene":
                raise Refused(f"a unit {TARGET_ACTION[state]}s only once on scene")
        if command.outcome not in outcomes:
            raise Refused(f"{TARGET_ACTION[state]} needs an outcome, one of {', '.join(outcomes)}")
        return Decision(
            state,
            {
                "outcome": command.outcome,
                "closed_at": now,
                "closed_by": command.actor,
                "ack_deadline": None,
                "on_scene_deadline": None,
            },
            reason=command.reason,
        )

    return rule


def _escalate(alarm: AlarmView, command: Command, now: datetime, timers: Timers) -> Decision:
    reason = command.reason
    updates: dict[str, Any] = {"escalation_level": alarm.escalation_level + 1}
    if reason == "no_acknowledgement":
        if alarm.acknowledged or alarm.ack_deadline is None or alarm.ack_deadline > now:
            raise Refused("acknowledgement deadline has not passed")
        updates["ack_deadline"] = now + timers.escalation_step
    elif reason == "no_unit_on_scene":
        if alarm.on_scene_deadline is None or alarm.on_scene_deadline > now:
            raise Refused("on-scene deadline has not passed")
        updates["on_scene_deadline"] = now + timers.escalation_step
    elif reason == "no_unit_in_range":
        if alarm.assigned_unit is not None:
            raise Refused(f"unit {alarm.assigned_unit} is assigned")
    else:
        raise Refused(f"escalate needs a reason, one of {', '.join(get_args(EscalationReason))}")
    return Decision("escalated", updates, reason=reason)


TARGET_ACTION: dict[AlarmState, str] = {"resolved": "resolve", "cancelled": "cancel"}
RESOLVE_OUTCOMES: tuple[str, ...] = get_args(ResolveOutcome)
CANCEL_OUTCOMES: tuple[str, ...] = get_args(CancelOutcome)

_RULES: dict[Action, Rule] = {
    "dispatch": _dispatch,
    "acknowledge": _acknowledge,
    "assign": _assign,
    "en_route": _en_route,
    "on_scene": _on_scene,
    "resolve": _close("resolved", RESOLVE_OUTCOMES),
    "cancel": _close("cancelled", CANCEL_OUTCOMES),
    "escalate": _escalate,
}


def due_escalation(alarm: AlarmView, now: datetime) -> EscalationReason | None:
    """Which deadline, if any, has passed for this alarm."""
    if alarm.state not in ALLOWED_FROM["escalate"]:
        return None
    if not alarm.acknowledged and alarm.ack_deadline is not None and alarm.ack_deadline <= now:
        return "no_acknowledgement"
    if alarm.on_scene_deadline is not None and alarm.on_scene_deadline <= now:
        return "no_unit_on_scene"
    return None
