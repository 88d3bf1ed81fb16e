"""Supervisors' activities: inspections, drills, safety sessions, letters to parents."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.events.base import Event

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
