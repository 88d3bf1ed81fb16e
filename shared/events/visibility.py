"""Police visibility (见警率) at schools in rush hours: for each school and each rush-hour window
of a school day, which units were seen near it (from their positions) and for how long."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.base import Event, SchoolRef

PatrolMode = Literal["vehicle", "foot", "special"]  # 车巡, 步巡, 特巡警


class UnitSeen(BaseModel):
    model_config = ConfigDict(frozen=True)

    unit_id: str
    kind: str = Field(..., description="The unit's kind in the provisioning file")
    mode: PatrolMode = Field(..., description="How it patrols: vehicle, foot, special police")
    minutes: int = Field(..., ge=0, description="Minutes of the window it was seen near")


class SchoolWindowPatrolled(Event):
    """A school's rush-hour window, once it has ended (topic patrols.visibility, keyed by
    school): `seen` is police visibility, `minutes_present` the minutes any unit was near."""

    school: SchoolRef
    day: date = Field(..., description="The county's school day")
    window: Literal["morning", "noon", "afternoon"]
    window_start: AwareDatetime
    window_end: AwareDatetime
    radius_m: float = Field(..., gt=0, description="Near: within this of the school")
    seen: bool = Field(..., description="A unit was near at some moment of the window")
    minutes_present: int = Field(..., ge=0, description="Minutes in which any unit was near")
    window_minutes: int = Field(..., ge=1)
    units: list[UnitSeen] = Field(default_factory=list)
