"""Read models and report rows of the reporting service."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SchoolAlarmCount(BaseModel):
    """Alarms of one school in a period; tests and drills counted apart, never in `alarms`."""

    school_id: str
    name: str
    township: str
    alarms: int = Field(..., ge=0, description="Real alarms")
    tests: int = Field(..., ge=0, description="Tests and drills")
