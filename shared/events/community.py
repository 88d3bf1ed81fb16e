"""Community checks (社区警务): officers' checks of rental housing (出租房屋) and hotels (旅馆业)
near schools. The event carries what the reports count, never a person: names, phone numbers
and identity numbers stay in patrols, protected and erased after their retention period."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.events.base import Event, SchoolRef

PremisesKind = Literal["rental_housing", "hotel"]
CheckItem = Literal[
    "tenant_register",  # 租住人员登记
    "guest_register",  # 旅客住宿登记 (hotels report their guests)
    "identity_verified",  # 实名核验
    "landlord_agreement",  # 治安责任书 signed by the landlord or manager
    "fire_safety",  # 消防安全
    "security_measures",  # 技防、物防
]
PersonRole = Literal["tenant", "guest", "landlord", "manager", "other"]


class CommunityCheckRecorded(Event):
    """One check of a premises near a school (topic patrols.community-checks, keyed by school):
    counts only, so the topic never holds personal data that retention would have to erase."""

    check_id: uuid.UUID
    school: SchoolRef = Field(..., description="The nearest school, within the check radius")
    distance_m: float = Field(..., ge=0, description="From the premises to that school")
    premises_kind: PremisesKind
    checked_at: AwareDatetime
    checked: list[CheckItem] = Field(default_factory=list, description="Items checked")
    failed: list[CheckItem] = Field(default_factory=list, description="Checked and not met")
    people: int = Field(..., ge=0, description="People recorded at the premises")
    unregistered: int = Field(
        ..., ge=0, description="Of them, not registered with the police (未登记)"
    )
    newly_arrived: int = Field(..., ge=0, description="Of them, newly arrived (流动人口)")
    issues: int = Field(..., ge=0, description="Issues raised")
    hazard_ids: list[uuid.UUID] = Field(
        default_factory=list, description="Hazards the issues were reported as"
    )
    checked_by: str
