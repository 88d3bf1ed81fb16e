"""Visitors at a school's gate (外来人员进校登记): who came in, why, and when they left. The event
carries no person: names, phones and plates stay with patrols and are erased after retention."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.events.base import Event, SchoolRef

VisitPurpose = Literal["parent", "delivery", "contractor", "official", "visitor", "other"]
VisitChange = Literal["arrived", "after_hours", "left"]


class GateVisitChanged(Event):
    """A gate visit as it is after a change (topic patrols.gate-visits, keyed by school): the
    whole visit each time, so the newest version is all a reader needs."""

    visit_id: uuid.UUID
    version: int = Field(..., ge=1, description="1 on arrival, one more per change")
    change: VisitChange
    school: SchoolRef
    purpose: VisitPurpose
    arrived_at: AwareDatetime
    left_at: AwareDatetime | None = None
    after_hours: bool = Field(
        False, description="Still inside when the school closed (SCHOOL_CLOSES_AT, county time)"
    )
    recorded_by: str = Field(..., description="The gate terminal's account (the school) or user")
