"""Hazards around schools and their rectification (隐患排查整改): found by an inspection, a
patrol or a video check; assigned to a department with a deadline; rectified; verified."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from shared.events.base import Event, SchoolRef
from shared.events.patrols import Place

HazardKind = Literal[
    "traffic",  # 交通安全: no crossing, no signs, parking at the gate
    "street_vending",  # 占道经营、流动摊贩
    "unlicensed_business",  # 无证经营 (网吧、娱乐场所 near the school)
    "food_safety",  # 食品安全
    "fire_safety",  # 消防安全
    "building",  # 校舍、围墙
    "public_order",  # 治安: loitering, fights
    "other",
]
HazardSource = Literal["inspection", "patrol", "video_check"]
HazardState = Literal["open", "assigned", "overdue", "rectified", "verified"]
HazardChange = Literal["reported", "assigned", "overdue", "rectified", "verified", "rejected"]
Department = Literal[
    "police_station",  # 派出所
    "traffic_police",  # 交警
    "health",  # 卫生健康
    "market_regulation",  # 市场监管
    "education",  # 教育
    "street_office",  # 街道、乡镇
    "fire_rescue",  # 消防救援
    "other",
]
PhotoRef = Annotated[str, Field(min_length=1, max_length=500)]


class HazardChanged(Event):
    """A hazard as it is after a change (topic patrols.hazards, keyed by hazard): the whole
    record each time, so the newest version is all a reader needs."""

    hazard_id: uuid.UUID
    version: int = Field(..., ge=1, description="1 when reported, one more per change")
    change: HazardChange
    state: HazardState
    school: SchoolRef
    kind: HazardKind
    place: Place
    found_by: HazardSource
    description: str
    photos: list[PhotoRef] = Field(default_factory=list)
    reported_by: str
    reported_at: AwareDatetime
    department: Department | None = None
    deadline: AwareDatetime | None = Field(None, description="Rectify by then")
    assigned_at: AwareDatetime | None = None
    rectified_at: AwareDatetime | None = None
    verified_at: AwareDatetime | None = None
    actor: str = Field(..., description="Who made this change (system: the overdue check)")
    note: str | None = None

    def on_time(self) -> bool | None:
        """Rectified by the deadline; None while not rectified."""
        if self.rectified_at is None or self.deadline is None:
            return None
        return self.rectified_at <= self.deadline

    def overdue_at(self, moment: datetime) -> bool:
        """Past its deadline at `moment` and not rectified by then."""
        if self.deadline is None or self.deadline >= moment:
            return False
        return self.rectified_at is None or self.rectified_at > self.deadline
