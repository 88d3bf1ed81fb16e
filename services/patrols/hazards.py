"""Hazards and their rectification (隐患排查整改): the requests and the rules of each change. Pure,
so every rule is unit-tested.

open → assigned (a department and a deadline) → rectified → verified; past its deadline an
assigned hazard becomes overdue (the system's check), and may still be rectified (late). A
verification that fails sends it back to its department with a new deadline; a hazard may be
reassigned until it is rectified.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.events import Place, SchoolRef, stable_id
from shared.events.hazards import (
    Department,
    HazardChange,
    HazardChanged,
    HazardKind,
    HazardSource,
    HazardState,
    PhotoRef,
)
from shared.inputs import Moment

CHANGED_FROM: dict[HazardChange, frozenset[HazardState]] = {
    "assigned": frozenset({"open", "assigned", "overdue"}),
    "overdue": frozenset({"assigned"}),
    "rectified": frozenset({"assigned", "overdue"}),
    "verified": frozenset({"rectified"}),
    "rejected": frozenset({"rectified"}),
}


NOW = datetime.min  # in STAMPS: the moment of the change
STAMPS: dict[HazardChange, dict[str, datetime | None]] = {
    "assigned": {"assigned_at": NOW, "rectified_at": None},
    "rectified": {"rectified_at": NOW},
    "verified": {"verified_at": NOW},
    "rejected": {"rectified_at": None},  # the department rectifies again
}


class HazardReport(BaseModel):
    """Body of `POST /v1/hazards`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hazard_id: uuid.UUID = Field(..., description="Made by the client; send it again to retry")
    school_id: str = Field(..., min_length=1, max_length=64)
    kind: HazardKind
    place: Place
    found_by: HazardSource
    description: str = Field(..., min_length=1, max_length=1000)
    photos: list[PhotoRef] = Field(default_factory=list, max_length=20)


class Change(BaseModel):
    """What every change names: the version it was made on (the one the client saw)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(
        ...,
        ge=1,
        description="The version this change was made on: a change "
        "of an older one is refused with 409 (another change came first)",
    )
    note: str | None = Field(None, max_length=1000)


class Assignment(Change):
    department: Department
    deadline: Moment = Field(..., description="Rectify by then; in the future")


class Rectification(Change):
    photos: list[PhotoRef] = Field(default_factory=list, max_length=20)


class Verification(Change):
    passed: bool
    deadline: Moment | None = Field(None, description="When it failed: the new deadline")


class HazardRefused(Exception):
    """A change the rules do not allow (409), with the reason."""


def reported(
    request: HazardReport, *, school: SchoolRef, actor: str, now: datetime
) -> HazardChanged:
    return HazardChanged(
        event_id=stable_id("hazard", str(request.hazard_id), "1"),
        occurred_at=now,
        hazard_id=request.hazard_id,
        version=1,
        change="reported",
        state="open",
        school=school,
        kind=request.kind,
        place=request.place,
        found_by=request.found_by,
        description=request.description,
        photos=request.photos,
        reported_by=actor,
        reported_at=now,
        actor=actor,
    )


def apply(
    hazard: HazardChanged, change: HazardChange, *, actor: str, now: datetime, **fields: Any
) -> HazardChanged:
    """The hazard after `change`; HazardRefused when its state does not allow it."""
    if hazard.state not in CHANGED_FROM[change]:
        raise HazardRefused(f"cannot mark a hazard that is {hazard.state} as {change}")
    state: HazardState = {"rejected": "assigned"}.get(change, change)  # type: ignore[assignment]
    stamps: dict[str, datetime | None] = STAMPS.get(change, {})
    stamps = {name: now if value is NOW else value for name, value in stamps.items()}
    version = hazard.version + 1
    return hazard.model_copy(
        update={
            "event_id": stable_id("hazard", str(hazard.hazard_id), str(version)),
            "occurred_at": now,
            "version": version,
            "change": change,
            "state": state,
            "actor": actor,
            "note": None,
            **stamps,
            **fields,
        }
    )
