"""Events of patrols: positions, unit status, campaigns, violations, check-ins, visits and
guard posts."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.base import Event, SchoolRef


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


Traffic = Literal["smooth", "congested", "blocked"]


class VideoCheckRecorded(Event):
    """A video patrol check (视频巡查) of a school's gate or guard post at a moment, by the
    command centre (topic patrols.video-checks, key school_id)."""

    check_id: uuid.UUID = Field(..., description="From the client; idempotency key")
    school: SchoolRef
    post_id: str | None = Field(None, description="The guard post looked at, if any")
    at: AwareDatetime = Field(..., description="The moment the video shows")
    officer_on_post: bool | None = Field(
        None, description="Whether an officer was on the post (None: not a guard post)"
    )
    traffic: Traffic
    patrol_seen: bool = Field(..., description="A patrol (car or on foot) was in view")
    snapshot: str | None = Field(None, description="Reference to the saved frame")
    note: str | None = None
    checked_by: str
