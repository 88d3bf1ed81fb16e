"""One plan per school (一校一策): its risks, contacts, plan documents, gate and building notes,
kept as versions; supervisors write the next version, never over another's."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.events.schools import PlanContent


class PlanRequest(PlanContent):
    """Body of `PUT /v1/schools/{school_id}/plan`: the content, and the version it replaces."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    version: int = Field(
        ...,
        ge=0,
        description="The version this edit replaces (0 for a school's first plan): an edit made "
        "on an older version is refused with 409, never written over the newer one",
    )

    def content(self) -> PlanContent:
        return PlanContent.model_validate(self.model_dump(exclude={"version"}))


class SchoolPlan(BaseModel):
    """One version of a school's plan (collection `school_plans`, _id = school:version)."""

    model_config = ConfigDict(extra="ignore")

    school_id: str
    version: int = Field(..., ge=1)
    plan: PlanContent
    edited_by: str
    edited_at: datetime
