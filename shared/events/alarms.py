"""Events of the alarm path: presses, the alarm's lifecycle, commands and their results."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.base import Event, Location, SchoolRef

AlarmKind = Literal["intrusion", "violence", "fire", "medical", "other"]


AlarmState = Literal[
    "raised",
    "dispatched",
    "acknowledged",
    "unit_assigned",
    "en_route",
    "on_scene",
    "resolved",
    "cancelled",
    "escalated",
]


class AlarmPressed(Event):
    """A button press accepted at ingress (topic alarms.pressed, key school_id)."""

    press_id: uuid.UUID = Field(..., description="Device-generated idempotency key")
    alarm_id: uuid.UUID = Field(..., description="Derived from press_id")
    school_id: str
    device_id: str
    kind: AlarmKind
    silent: bool
    test: bool
    location: Location
    pressed_at: AwareDatetime = Field(..., description="Device clock")
    received_at: AwareDatetime = Field(..., description="Ingress clock")


class NearbyUnit(BaseModel):
    """A unit near an alarm, with its straight-line distance."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    unit_id: str
    distance_m: float = Field(..., ge=0)
    lat: float
    lon: float
    guard_post: bool = Field(
        False, description="Stands guard at the alarm's school (on post, within its radius)"
    )


class AlarmLifecycle(Event):
    """One transition of an alarm's state (topic alarms.lifecycle, key alarm_id)."""

    alarm_id: uuid.UUID
    state: AlarmState
    previous_state: AlarmState | None = None
    school: SchoolRef
    kind: AlarmKind
    kinds: list[AlarmKind] = Field(
        default_factory=list,
        description="Every kind pressed, the alarm's own `kind` first: a press of another kind "
        "folded in adds its kind (empty in events written before this field)",
    )
    silent: bool
    test: bool
    location: Location
    device_id: str
    pressed_at: AwareDatetime
    received_at: AwareDatetime | None = Field(None, description="When ingress accepted the press")
    actor: str = Field("system", description="Who caused the transition")
    reason: str | None = None
    change: Literal["transition", "folded"] = Field(
        "transition", description="`folded`: another press joined the alarm; state unchanged"
    )
    press_count: int = Field(1, ge=1, description="Presses folded into this alarm")
    severity: int = Field(1, ge=1, description="Grows when a second device at the school presses")
    devices: list[str] = Field(default_factory=list, description="Devices that pressed")
    assigned_unit: str | None = None
    outcome: str | None = Field(None, description="On resolved/cancelled")
    escalation_level: int = Field(0, ge=0)
    command_id: uuid.UUID | None = Field(None, description="The command that caused it, if any")


# escalate: the system's only (a deadline, or notifications with nobody left to ask)
CommandAction = Literal[
    "dispatch", "acknowledge", "assign", "en_route", "on_scene", "resolve", "cancel", "escalate"
]


class AlarmCommand(Event):
    """A dispatcher's, a unit's or the system's order for an alarm (alarms.commands, key
    alarm_id). Applied once (by command_id) if the state machine allows it."""

    command_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Idempotency key")
    alarm_id: uuid.UUID
    action: CommandAction
    actor: str = Field(..., min_length=1, max_length=64, description="User or unit id")
    role: str = Field(..., description="The actor's role when it gave the order")
    unit_id: str | None = Field(None, max_length=64, description="For assign")
    outcome: str | None = Field(None, max_length=32, description="For resolve and cancel")
    reason: str | None = Field(None, max_length=500, description="Free text, kept in the audit")


class CommandResolved(Event):
    """A command the alarms service refused, with the reason (topic `alarms.command-results`,
    keyed by alarm); an applied one shows as the alarm's lifecycle event, which carries its
    command_id. The event id derives from the command's, so one told again is the same event."""

    command_id: uuid.UUID
    alarm_id: uuid.UUID
    action: CommandAction
    actor: str
    role: str
    unit_id: str | None = None
    status: Literal["applied", "refused", "forbidden"]
    reason: str | None = Field(None, description="Why it was refused")
    state: AlarmState | None = Field(None, description="The alarm's state after it")
