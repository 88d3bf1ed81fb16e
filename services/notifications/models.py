"""Records of the notifications service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import AlarmKind, AlarmState, Location, NearbyUnit, SchoolRef


class FeedEntry(BaseModel):
    """One item of the dispatcher feed (collection `dispatcher_feed`, _id = event_id).

    `seq` orders the feed and is the SSE event id a client resumes from.
    """

    model_config = ConfigDict(extra="ignore")

    seq: int = Field(..., ge=1)
    event_id: uuid.UUID
    alarm_id: uuid.UUID
    state: AlarmState
    school: SchoolRef
    kind: AlarmKind
    silent: bool
    test: bool
    location: Location
    pressed_at: datetime
    occurred_at: datetime
    nearest_units: list[NearbyUnit] = Field(
        default_factory=list, description="Nearest fresh units, closest first (on `raised`)"
    )
    radius_m: float | None = Field(None, description="Search radius used for nearest_units")
    change: Literal["transition", "folded"] = Field(
        "transition", description="`folded`: another press joined the alarm (state unchanged)"
    )
    press_count: int = 1
    severity: int = 1
    assigned_unit: str | None = None
