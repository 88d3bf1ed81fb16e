"""Events about a school itself: its plan (一校一策), one version after another."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.events.base import Event

PHONE = r"^\+?[0-9][0-9 -]{4,19}$"
Risk = Annotated[str, Field(min_length=1, max_length=200)]
Reference = Annotated[str, Field(min_length=1, max_length=500)]


class PlanContact(BaseModel):
    """Someone the dispatcher calls at the school: the role first, a name only if needed."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    role: str = Field(..., min_length=1, max_length=40, description="e.g. 保卫干部, 门卫室")
    name: str | None = Field(None, max_length=40)
    phone: str = Field(..., pattern=PHONE)


class PlanContent(BaseModel):
    """What one version of a school's plan says."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    risks: list[Risk] = Field(
        default_factory=list,
        max_length=20,
        description="The school's risks, e.g. 紧邻国道、校门口占道经营",
    )
    contacts: list[PlanContact] = Field(default_factory=list, max_length=10)
    plan_refs: list[Reference] = Field(
        default_factory=list,
        max_length=20,
        description="References to the plan's documents (file numbers, links)",
    )
    gate_notes: str = Field("", max_length=1000, description="Gates, how to get in, who opens")
    building_notes: str = Field("", max_length=2000, description="Buildings, floors, exits")


class SchoolPlanChanged(Event):
    """A new version of a school's plan (topic patrols.school-plans, keyed by school)."""

    school_id: str
    version: int = Field(..., ge=1, description="1, 2, …: each edit is the next version")
    plan: PlanContent
    edited_by: str = Field(..., description="The supervisor who saved it")
