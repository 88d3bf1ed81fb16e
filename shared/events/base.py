"""What every event is: an id, when it happened, its schema version; and the values events share."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

NAMESPACE = uuid.UUID("6f1c8d3e-5b0a-4c1e-9a57-2f0e4b7d9c11")


def stable_id(*parts: str) -> uuid.UUID:
    """A UUID that is always the same for the same parts (idempotency keys, derived ids)."""
    return uuid.uuid5(NAMESPACE, "/".join(parts))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every event: identity, time and schema version; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique; dedup key")
    occurred_at: AwareDatetime = Field(default_factory=utcnow, description="When it happened")
    schema_version: int = Field(1, ge=1, description="Bumped only when fields are added")


class Location(BaseModel):
    """Where in the school the button is (building/floor/room)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    building: str = Field(..., min_length=1, max_length=100)
    floor: int = Field(..., ge=-10, le=200)
    room: str = Field(..., min_length=1, max_length=100)


class SchoolRef(BaseModel):
    """The school an alarm belongs to, carried in events so consumers need no lookups."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    school_id: str
    name: str
    township: str
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)


class DeadLetter(BaseModel):
    """What lands on `<topic>.dlq`: the original message and why it could not be processed."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    key: str | None
    service: str
    error: str
    payload: str = Field(..., description="The original value, decoded as UTF-8 with replacement")
    failed_at: AwareDatetime = Field(default_factory=utcnow)
