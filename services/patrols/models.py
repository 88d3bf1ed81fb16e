"""Requests, responses and stored records of the patrols service."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.patrols.status import INITIAL
from shared.events import UnitStatus, UnitStatusChanged

MAX_FIXES = 500


class Fix(BaseModel):
    """One GPS fix from a unit terminal."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(..., ge=-90, le=90, description="WGS84 latitude")
    lon: float = Field(..., ge=-180, le=180, description="WGS84 longitude")
    recorded_at: AwareDatetime = Field(..., description="Terminal clock, RFC 3339 with offset")
    speed_kmh: float | None = Field(None, ge=0, le=400)
    heading_deg: float | None = Field(None, ge=0, lt=360)
    accuracy_m: float | None = Field(None, ge=0, le=10_000)


class PositionBatch(BaseModel):
    """Body of `POST /v1/units/{unit_id}/positions`."""

    model_config = ConfigDict(extra="forbid")

    fixes: list[Fix] = Field(..., min_length=1, max_length=MAX_FIXES)


class BatchAccepted(BaseModel):
    accepted: int = Field(..., description="Fixes durably published")


class StoredFix(BaseModel):
    """A fix as kept in a unit's history."""

    recorded_at: datetime
    lat: float
    lon: float
    speed_kmh: float | None = None
    heading_deg: float | None = None
    accuracy_m: float | None = None


class UnitState(BaseModel):
    """Latest known state of a unit (collection `units`, _id unit_id). `outbox` holds status
    events stored with the change they describe, until the relay has published them."""

    model_config = ConfigDict(extra="ignore")

    unit_id: str
    kind: str
    callsign: str
    lat: float | None = None
    lon: float | None = None
    recorded_at: datetime | None = None
    status: UnitStatus = INITIAL
    status_since: datetime | None = None
    status_version: int = 0
    outbox: list[UnitStatusChanged] = Field(default_factory=list, exclude=True)


class StatusChange(BaseModel):
    """Body of `POST /v1/units/{unit_id}/status`."""

    model_config = ConfigDict(extra="forbid")

    status: UnitStatus
    reason: str | None = Field(None, max_length=500)
