"""Visitors at a school's gate (外来人员进校登记): what the gate terminal sends, what patrols
keeps (name, phone, plate: erased after VISITOR_PERSONAL_DAYS), the rule that flags a visitor
still inside when the school closes, and what each reader is shown."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.patrols.community import PHONE_PATTERN
from services.patrols.personal import mask_name, mask_phone
from shared.events import SchoolRef
from shared.events.visitors import GateVisitChanged, VisitChange, VisitPurpose
from shared.inputs import Moment


class VisitorArrival(BaseModel):
    """Body of `POST /v1/schools/{school_id}/visitors`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    visit_id: uuid.UUID = Field(..., description="Made by the terminal; send it again to retry")
    name: str = Field(..., min_length=1, max_length=40)
    phone: str | None = Field(None, pattern=PHONE_PATTERN)
    organisation: str | None = Field(None, max_length=100, description="Company or office")
    purpose: VisitPurpose
    host: str = Field(..., min_length=1, max_length=60, description="Whom they visit")
    id_checked: bool = Field(..., description="The guard saw an identity document (not kept)")
    plate: str | None = Field(None, max_length=16, description="Vehicle brought in")
    arrived_at: Moment


class VisitorDeparture(BaseModel):
    """Body of `POST /v1/schools/{school_id}/visitors/{visit_id}/out`."""

    model_config = ConfigDict(extra="forbid")

    left_at: Moment


PERSONAL = ("name", "phone", "organisation", "plate")  # erased after the retention period


class GateVisit(BaseModel):
    """A visit as patrols keeps it (collection gate_visits); personal fields None once erased."""

    visit_id: uuid.UUID
    version: int
    change: VisitChange
    school: SchoolRef
    purpose: VisitPurpose
    host: str
    id_checked: bool
    arrived_at: AwareDatetime
    left_at: AwareDatetime | None = None
    after_hours: bool = False
    recorded_by: str
    changed_at: AwareDatetime
    name: str | None = None
    phone: str | None = None
    organisation: str | None = None
    plate: str | None = None
    erased_at: AwareDatetime | None = None

    def event(self) -> GateVisitChanged:
        return GateVisitChanged(
            event_id=uuid.uuid5(self.visit_id, f"v{self.version}"),
            occurred_at=self.changed_at,
            visit_id=self.visit_id,
            version=self.version,
            change=self.change,
            school=self.school,
            purpose=self.purpose,
            arrived_at=self.arrived_at,
            left_at=self.left_at,
            after_hours=self.after_hours,
            recorded_by=self.recorded_by,
        )

    def view(self, *, clear: bool) -> VisitView:
        """In clear for the school's own gate; masked for everyone else."""
        name, phone = self.name, self.phone
        if not clear:
            name = None if name is None else mask_name(name)
            phone = None if phone is None else mask_phone(phone)
        return VisitView(
            **self.event().model_dump(),
            host=self.host,
            id_checked=self.id_checked,
            name=name,
            phone=phone,
            organisation=self.organisation,
            plate=self.plate if clear else None,
            erased=self.erased_at is not None,
        )


class VisitView(GateVisitChanged):
    host: str
    id_checked: bool
    name: str | None = Field(None, description="In clear to the school's gate, else masked")
    phone: str | None = None
    organisation: str | None = None
    plate: str | None = Field(None, description="To the school's gate only")
    erased: bool = Field(..., description="The retention period is over: personal fields gone")


def closing_time(arrived_at: datetime, closes_at: time, zone: ZoneInfo) -> datetime:
    """When the school closed on the (county) day the visitor arrived."""
    day = arrived_at.astimezone(zone).date()
    return datetime.combine(day, closes_at, tzinfo=zone)


def still_inside_after_hours(
    visit: GateVisit, *, now: datetime, closes_at: time, zone: ZoneInfo
) -> bool:
    """Not seen leaving by the time the school closed (and not flagged yet)."""
    if visit.after_hours or visit.left_at is not None:
        return False
    return now >= closing_time(visit.arrived_at, closes_at, zone)


def left(
    visit: GateVisit, *, left_at: datetime, now: datetime, closes_at: time, zone: ZoneInfo
) -> GateVisit:
    """Out at `left_at`: after the school closed, the visit is an after-hours one too."""
    late = left_at > closing_time(visit.arrived_at, closes_at, zone)
    return visit.model_copy(
        update={
            "version": visit.version + 1,
            "change": "left",
            "left_at": left_at,
            "after_hours": visit.after_hours or late,
            "changed_at": now,
        }
    )


def flagged(visit: GateVisit, *, now: datetime) -> GateVisit:
    return visit.model_copy(
        update={
            "version": visit.version + 1,
            "change": "after_hours",
            "after_hours": True,
            "changed_at": now,
        }
    )


def erased(visit: GateVisit, *, now: datetime) -> GateVisit:
    return visit.model_copy(update=dict.fromkeys(PERSONAL) | {"erased_at": now})


LONGEST_STAY = timedelta(days=2)  # a departure later than this after arrival is a mistake
