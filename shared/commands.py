"""A dispatcher's command as clients send it: the request bodies and outcomes the alarms API
takes, and the dispatcher console sends through notifications (alarms.commands)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CancelOutcome = Literal["false_alarm", "test", "drill", "duplicate", "other"]
ResolveOutcome = Literal["handled", "arrest", "medical_aid", "fire_service", "no_action", "other"]


class CommandBody(BaseModel):
    """Optional client idempotency key for any command."""

    model_config = ConfigDict(extra="forbid")

    command_id: uuid.UUID | None = Field(None, description="Resend the same id to retry safely")
    reason: str | None = Field(None, max_length=500)


class AssignBody(CommandBody):
    unit_id: str = Field(..., min_length=1, max_length=64)


class ResolveBody(CommandBody):
    outcome: ResolveOutcome


class CancelBody(CommandBody):
    outcome: CancelOutcome
