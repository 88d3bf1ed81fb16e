"""Events on the bus (DESIGN §3). Contract: change only by adding optional fields."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

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

NAMESPACE = uuid.UUID("6f1c8d3e-5b0a-4c1e-9a57-2f0e4b7d9c11")


def stable_id(*parts: str) -> uuid.UUID:
    """A UUID that is always the same for the same parts (idempotency keys, derived ids)."""
    return uuid.uuid5(NAMESPACE, "/".join(parts))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every event: identity, time and schema version; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique; dedup key")
    occurred_at: AwareDatetime = Field(default_factory=utcnow, description="When it happened")
    schema_version: int = Field(1, ge=1, description="Bumped only when fields are added")


class Location(BaseModel):
    """Where in the school the button is (building/floor/room)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    building: str = Field(..., min_length=1, max_length=100)
    floor: int = Field(..., ge=-10, le=200)
    room: str = Field(..., min_length=1, max_length=100)


class SchoolRef(BaseModel):
    """The school an alarm belongs to, carried in events so consumers need no lookups."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    school_id: str
    name: str
    township: str
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)


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


class PositionReported(Event):
    """A GPS fix of a unit (topic patrols.positions, key unit_id)."""

    unit_id: str
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)
    recorded_at: AwareDatetime
    speed_kmh: float | None = Field(None, ge=0, le=400)
    heading_deg: float | None = Field(None, ge=0, lt=360)
    accuracy_m: float | None = Field(None, ge=0, le=10_000)


def newest_per_unit(fixes: list[PositionReported]) -> list[PositionReported]:
    """The most recent fix of each unit in a batch (what moves the unit's latest position)."""
    newest: dict[str, PositionReported] = {}
    for fix in fixes:
        held = newest.get(fix.unit_id)
        if held is None or held.recorded_at < fix.recorded_at:
            newest[fix.unit_id] = fix
    return list(newest.values())


UnitStatus = Literal["available", "busy", "en_route", "on_scene", "on_post", "off_duty"]
# Units the nearest-unit search may send: free ones, and guard posts.
DISPATCHABLE: tuple[UnitStatus, ...] = ("available", "on_post")


class UnitStatusChanged(Event):
    """A unit's status changed (topic patrols.unit-status, key unit_id)."""

    unit_id: str
    status: UnitStatus
    previous: UnitStatus
    actor: str = Field(..., description="The unit itself, or the dispatcher who set it")
    reason: str | None = Field(None, max_length=500)
    version: int = Field(
        ..., ge=1, description="Orders a unit's changes; consumers keep the highest"
    )


ViolationKind = Literal[
    "speeding",
    "overloading",
    "unlicensed_vehicle_carrying_students",
    "illegal_parking",
    "street_vending_blocking_road",
    "illegal_passenger_carrying",
    "other",
]


class Place(BaseModel):
    """Where something was observed."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)
    description: str = Field("", max_length=200, description="e.g. 'north gate, Huining No.2'")


class CampaignRef(BaseModel):
    """The enforcement campaign (专项整治) a record belongs to."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    campaign_id: str
    name: str


class CampaignOpened(Event):
    """An enforcement campaign (专项整治) was set up (topic patrols.campaigns, key campaign_id):
    the reports count the campaigns held in a period, with or without violations."""

    campaign_id: str
    name: str
    school_ids: list[str] = Field(default_factory=list, description="Empty: every school")
    starts_on: date
    ends_on: date = Field(..., description="Inclusive")
    created_by: str

    def runs_between(self, since: date | None, until: date | None) -> bool:
        """Held on some day of [since, until) (None: unbounded)."""
        return (until is None or self.starts_on < until) and (
            since is None or self.ends_on >= since
        )


class ViolationRecorded(Event):
    """A traffic or order violation near a school (topic patrols.violations, key unit_id)."""

    violation_id: uuid.UUID = Field(..., description="From the terminal; idempotency key")
    unit_id: str
    officer: str = Field(..., description="Officer who recorded it")
    kind: ViolationKind
    plate: str | None = Field(None, description="Vehicle plate, when there is one")
    place: Place
    school_id: str | None = Field(None, description="The school it was near")
    observed_at: AwareDatetime
    evidence: list[str] = Field(default_factory=list, description="Evidence references")
    campaign: CampaignRef | None = None
    notes: str | None = None


class CheckinRecorded(Event):
    """A unit checked in at a patrol point (topic patrols.checkins, key unit_id)."""

    checkin_id: uuid.UUID = Field(..., description="From the terminal; idempotency key")
    unit_id: str
    point_id: str
    school_id: str
    point_kind: Literal["must_reach", "must_patrol", "stop"]
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)
    at: AwareDatetime
    distance_m: float = Field(..., ge=0, description="From the point's centre")
    flagged: bool = Field(..., description="Outside the geofence; the unit insisted")
    note: str | None = None


class PointVisited(Event):
    """A unit's visit to a patrol point ended (topic patrols.visits, key unit_id): its fixes were
    inside the point's geofence from `arrived_at` to `left_at`. Fixes inside more than 5 min
    apart are two visits; a unit silent that long has left."""

    visit_id: uuid.UUID = Field(..., description="Derived from unit, point and arrival")
    unit_id: str
    point_id: str
    school_id: str
    point_kind: Literal["must_reach", "must_patrol", "stop"]
    arrived_at: AwareDatetime = Field(..., description="First fix inside")
    left_at: AwareDatetime = Field(..., description="Last fix inside")
    dwell_s: float = Field(..., ge=0, description="left_at minus arrived_at")
    fixes: int = Field(..., ge=1, description="Fixes inside the geofence")
    closed_by: Literal["left", "gap", "silent"] = Field(
        ..., description="A fix outside, a gap of more than 5 min, or no fix for 5 min"
    )


class GuardPostWindow(Event):
    """A guard post's rush-hour window (topic patrols.guard-posts, key post_id): `empty` with
    final=false is a coverage gap found while the window is open (act now); final=true is the
    window's outcome at its end (staffed, late or empty), for the reports."""

    post_id: str
    school_id: str
    unit_id: str
    day: date
    window: Literal["morning", "noon", "afternoon"]
    window_start: AwareDatetime
    window_end: AwareDatetime
    state: Literal["staffed", "late", "empty"]
    final: bool
    arrived_at: AwareDatetime | None = None
    last_seen_m: float | None = Field(
        None, description="Unit's distance from the post when checked"
    )


InspectionItem = Literal[
    "alarm_buttons", "fire_safety", "cctv", "evacuation_routes", "visitor_registration", "guards"
]
# 三防, the three defences an inspection must find 100% met, and the checklist items of each.
THREE_DEFENCES: dict[str, tuple[InspectionItem, ...]] = {
    "human": ("guards", "visitor_registration"),  # 人防
    "physical": ("fire_safety", "evacuation_routes"),  # 物防
    "technical": ("alarm_buttons", "cctv"),  # 技防
}
INSPECTION_ITEMS: tuple[InspectionItem, ...] = tuple(
    item for items in THREE_DEFENCES.values() for item in items
)
OutreachTopic = Literal[
    "legal_education",
    "traffic_safety",
    "anti_bullying",
    "anti_fraud",
    "drug_prevention",
    "food_safety",
    "fire_safety",
    "other",
]


class _Activity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Inspection(_Activity):
    """A security inspection of a school: every checklist item passed or failed."""

    kind: Literal["inspection"] = "inspection"
    items: dict[InspectionItem, bool] = Field(
        ..., description="Every item of the checklist, true when it passed"
    )
    findings: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _whole_checklist(self) -> Inspection:
        missing = [item for item in INSPECTION_ITEMS if item not in self.items]
        if missing:
            raise ValueError(f"checklist items missing: {', '.join(missing)}")
        return self


class Drill(_Activity):
    """An emergency drill held with the school (anti-terror, fire, evacuation...)."""

    kind: Literal["drill"] = "drill"
    scenario: Literal["intruder", "fire", "earthquake", "evacuation", "other"]
    participants: int = Field(..., ge=1, le=100_000)


class Session(_Activity):
    """A legal-education or traffic-safety session at the school."""

    kind: Literal["session"] = "session"
    topic: OutreachTopic
    audience: int = Field(..., ge=1, le=100_000, description="People who attended")
    title: str = Field("", max_length=200)


class Letters(_Activity):
    """Letters to parents (致家长的一封信) handed out through the school."""

    kind: Literal["letters"] = "letters"
    topic: OutreachTopic
    letters: int = Field(..., ge=1, le=1_000_000)


ActivityDetails = Annotated[Inspection | Drill | Session | Letters, Field(discriminator="kind")]
ActivityKind = Literal["inspection", "drill", "session", "letters"]


class ActivityRecorded(Event):
    """The bureau's work with a school other than alarms and patrols (topic
    activities.recorded, key school_id), recorded by a supervisor."""

    activity_id: uuid.UUID = Field(..., description="From the client; idempotency key")
    school_id: str
    held_at: AwareDatetime
    recorded_by: str
    activity: ActivityDetails
    notes: str | None = Field(None, max_length=2000)


DeliveryState = Literal["queued", "sent", "delivered", "acknowledged", "failed", "expired"]
DeliveryChannel = Literal["unit_stream", "dispatcher_stream", "webhook", "sms"]


class DeliveryChanged(Event):
    """A notification changed state (topic notifications.deliveries, key alarm_id). One
    notification per alarm and recipient: `notification_id` is derived from both."""

    notification_id: uuid.UUID
    alarm_id: uuid.UUID
    recipient: str = Field(..., description="`unit:<unit_id>`, `dispatchers`, or an endpoint name")
    channel: DeliveryChannel
    state: DeliveryState
    rank: int | None = Field(None, ge=1, description="The unit's place in the ranking")
    distance_m: float | None = Field(None, ge=0)
    reason: str | None = Field(None, max_length=500)


class DeadLetter(BaseModel):
    """What lands on `<topic>.dlq`: the original message and why it could not be processed."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    key: str | None
    service: str
    error: str
    payload: str = Field(..., description="The original value, decoded as UTF-8 with replacement")
    failed_at: AwareDatetime = Field(default_factory=utcnow)
