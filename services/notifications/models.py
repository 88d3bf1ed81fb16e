"""Records of the notifications service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

from shared.events import (
    AlarmKind,
    AlarmState,
    DeliveryChanged,
    DeliveryChannel,
    DeliveryState,
    Location,
    NearbyUnit,
    PlanContent,
    SchoolRef,
    TroubleKind,
    TroubleStatus,
    UnitStatus,
    stable_id,
)
from shared.provisioning import PointKind


class FeedEntry(BaseModel):
    """One item of the dispatcher feed (collection `dispatcher_feed`, _id = event_id).

    `seq` is the entry's position in the feed log (offset + 1): the SSE event id a client
    resumes from on any instance. None until the entry is in the log.
    """

    model_config = ConfigDict(extra="ignore")

    entry_type: Literal["alarm"] = Field(
        "alarm",
        description="What the feed entry is about: an alarm (else a guard-post gap, or a "
        "button's trouble)",
    )
    seq: int | None = Field(None, ge=1, description="Position in the feed log (the SSE id)")
    event_id: uuid.UUID
    alarm_id: uuid.UUID
    state: AlarmState
    school: SchoolRef
    kind: AlarmKind
    kinds: list[AlarmKind] = Field(
        default_factory=list, description="Every kind pressed, `kind` first (folded presses)"
    )
    silent: bool
    test: bool
    location: Location
    pressed_at: datetime
    occurred_at: datetime
    nearest_units: list[NearbyUnit] = Field(
        default_factory=list, description="Nearest fresh units, closest first (on `raised`)"
    )
    radius_m: float | None = Field(None, description="Search radius used for nearest_units")
    change: Literal["transition", "folded", "passed_over", "refused"] = Field(
        "transition",
        description="`folded`: another press joined the alarm (state unchanged); `passed_over`: "
        "a unit did not acknowledge its order in time (see passed_over_unit, ordered_unit); "
        "`refused`: the alarms service refused a command (see command_id, actor, reason)",
    )
    press_count: int = 1
    severity: int = 1
    assigned_unit: str | None = None
    widened: bool = Field(
        False, description="Nobody was in the default radius: radius_m is the widened one"
    )
    devices: list[str] = Field(default_factory=list, description="Devices that pressed")
    plan: PlanContent | None = Field(
        None, description="The school's plan (一校一策), newest version, when it has one"
    )
    plan_version: int | None = Field(None, description="Which version `plan` is")
    passed_over_unit: str | None = None
    ordered_unit: str | None = Field(
        None, description="Who is told next after a pass-over (none left: null)"
    )
    reason: str | None = Field(
        None,
        description="Why the alarm changed (`no_unit_in_range` on `escalated`), or why a "
        "command was refused",
    )
    command_id: uuid.UUID | None = Field(
        None, description="The command that made this entry (a console shows its outcome)"
    )
    actor: str | None = Field(None, description="Who caused it: a user, a unit, or `system`")


class PostGap(BaseModel):
    """A guard post still empty in its rush-hour window (from `patrols.guard-posts`): an entry
    of the dispatcher feed of its own (SSE event `guard_post_gap`), for the command centre to
    send someone. Collection `dispatcher_feed`, _id = the gap event's id."""

    model_config = ConfigDict(extra="ignore")

    entry_type: Literal["guard_post_gap"] = "guard_post_gap"
    seq: int | None = Field(None, ge=1, description="Position in the feed log (the SSE id)")
    event_id: uuid.UUID
    post_id: str
    school: SchoolRef
    unit_id: str = Field(..., description="The unit on duty at the post")
    window: Literal["morning", "noon", "afternoon"]
    window_start: datetime
    window_end: datetime
    last_seen_m: float | None = Field(None, description="The unit's distance from the post")
    occurred_at: datetime


class TroubleEntry(BaseModel):
    """A button in trouble, announced again, or restored (from `devices.troubles`): an entry of
    the dispatcher feed of its own (SSE event `device_trouble`), apart from alarms. Collection
    `dispatcher_feed`, _id = the trouble event's id."""

    model_config = ConfigDict(extra="ignore")

    entry_type: Literal["device_trouble"] = "device_trouble"
    seq: int | None = Field(None, ge=1, description="Position in the feed log (the SSE id)")
    event_id: uuid.UUID
    trouble_id: uuid.UUID = Field(..., description="The same from `raised` to `restored`")
    device_id: str
    school: SchoolRef
    kind: TroubleKind
    status: TroubleStatus
    since: datetime
    count: int = 1
    last_seen: datetime | None = None
    battery_pct: int | None = None
    detail: str | None = None
    occurred_at: datetime


def _entry_type(value: object) -> str:
    """Stored entries from before guard-post gaps have no `entry_type`: they are alarms."""
    if isinstance(value, dict):
        return str(value.get("entry_type", "alarm"))
    return str(getattr(value, "entry_type", "alarm"))


# One item of the dispatcher feed: an alarm's entry, a guard-post gap, or a button's trouble.
Feed = FeedEntry | PostGap | TroubleEntry
FeedItem = Annotated[
    Annotated[FeedEntry, Tag("alarm")]
    | Annotated[PostGap, Tag("guard_post_gap")]
    | Annotated[TroubleEntry, Tag("device_trouble")],
    Discriminator(_entry_type),
]
FEED_ITEMS: TypeAdapter[Feed] = TypeAdapter(FeedItem)


class Order(BaseModel):
    """A unit's order to go to an alarm (collection `orders`, _id = order_id), one per alarm and
    unit. `seq` is its position in the orders log (offset + 1 in its unit's partition): the SSE
    event id the unit's stream resumes from. None until the order is in the log."""

    model_config = ConfigDict(extra="ignore")

    order_id: uuid.UUID
    seq: int | None = Field(None, ge=1, description="Position in the orders log (the SSE id)")
    alarm_id: uuid.UUID
    unit_id: str
    rank: int = Field(..., ge=1, description="1 = the first unit told")
    distance_m: float
    guard_post: bool = False
    state: DeliveryState
    deadline: datetime = Field(..., description="Acknowledge by then, or the next unit is told")
    next_units: list[NearbyUnit] = Field(
        default_factory=list, description="The rest of the ranking, told in turn on pass-over"
    )
    school: SchoolRef
    kind: AlarmKind
    silent: bool = Field(..., description="Silent alarm: approach without sirens")
    location: Location
    devices: list[str] = Field(default_factory=list)
    plan: PlanContent | None = Field(None, description="The school's plan, as the feed has it")
    plan_version: int | None = None
    pressed_at: datetime
    ordered_at: datetime
    acknowledged_at: datetime | None = None
    reason: str | None = None


class DeviceMessage(BaseModel):
    """A message for a school's alarm button, shown on it without a sound (collection
    `device_messages`, _id = notification_id: one per alarm and device)."""

    model_config = ConfigDict(extra="ignore")

    notification_id: uuid.UUID
    device_id: str
    alarm_id: uuid.UUID
    text: str
    unit_id: str
    distance_m: float | None = Field(None, description="None when the unit's position is unknown")
    created_at: datetime


class MapUnit(BaseModel):
    """A unit on the console's map: its latest fix and status (the read model)."""

    unit_id: str
    lat: float
    lon: float
    recorded_at: datetime
    status: UnitStatus | None = None


class MapSchool(BaseModel):
    school_id: str
    name: str
    township: str
    lat: float
    lon: float


class MapTownship(BaseModel):
    name: str
    outline: list[list[float]] = Field(..., description="[lat, lon] corners, counter-clockwise")


class MapPoint(BaseModel):
    point_id: str
    school_id: str
    kind: PointKind
    lat: float
    lon: float


class MapTiles(BaseModel):
    url: str = Field(..., description="A Leaflet tile URL template ({z}/{x}/{y}, {s})")
    attribution: str


class ConsoleMap(BaseModel):
    """What the console draws: every school, and every unit with a position; under them the
    townships' outlines, the patrol points and, when configured, the tile server's base."""

    schools: list[MapSchool]
    units: list[MapUnit]
    townships: list[MapTownship] = Field(default_factory=list)
    points: list[MapPoint] = Field(default_factory=list)
    tiles: MapTiles | None = Field(None, description="None: the offline base only")
    timezone: str = Field("Asia/Shanghai", description="The county's IANA zone: times shown in it")


def order_id(alarm_id: uuid.UUID, unit_id: str) -> uuid.UUID:
    return stable_id("order", str(alarm_id), unit_id)


def notification_id(alarm_id: uuid.UUID, recipient: str, *about: str) -> uuid.UUID:
    """One notification per alarm and recipient (and `about`: the assigned unit), whatever
    happens."""
    return stable_id("notification", str(alarm_id), recipient, *about)


def delivery_id(notification_id: uuid.UUID, state: DeliveryState) -> uuid.UUID:
    """A notification's state, published again, is the same event."""
    return stable_id("delivery", str(notification_id), state)


def delivery_changed(
    *,
    nid: uuid.UUID,
    alarm_id: uuid.UUID,
    recipient: str,
    channel: DeliveryChannel,
    state: DeliveryState,
    reason: str | None = None,
    rank: int | None = None,
    distance_m: float | None = None,
) -> DeliveryChanged:
    """The event of a notification's state; its id derives from the notification and the
    state, so a state published again is the same event."""
    return DeliveryChanged(
        event_id=delivery_id(nid, state),
        notification_id=nid,
        alarm_id=alarm_id,
        recipient=recipient,
        channel=channel,
        state=state,
        rank=rank,
        distance_m=distance_m,
        reason=reason,
    )


@dataclass(frozen=True)
class OrderChange:
    """One write to an order, if it is in one of `from_states`: the fields it sets (its state
    among them), its delivery event (into the order's outbox), and whether the order now owes
    its next unit (`hand_over`)."""

    fields: dict[str, Any]
    from_states: set[DeliveryState]
    delivery: DeliveryChanged
    hand_over: bool = False
