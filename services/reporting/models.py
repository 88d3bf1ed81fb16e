"""Read models and report rows of the reporting service."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class SchoolAlarmCount(BaseModel):
    """Alarms of one school in a period; tests and drills counted apart, never in `alarms`."""

    school_id: str
    name: str
    township: str
    alarms: int = Field(..., ge=0, description="Real alarms")
    tests: int = Field(..., ge=0, description="Tests and drills")


class AlarmFact(BaseModel):
    """One alarm as the reports see it (collection `alarm_facts`): when it was pressed and when
    it first reached each state."""

    alarm_id: uuid.UUID
    school_id: str
    township: str
    kind: str
    test: bool
    pressed_at: datetime
    states: dict[str, datetime]


class IntervalFigures(BaseModel):
    """Response time from the press to one state, over the real alarms of a period."""

    interval: str = Field(..., description="press_to_<state>")
    alarms: int = Field(..., ge=0, description="Real alarms that reached the state")
    missing: int = Field(..., ge=0, description="Real alarms that did not (yet)")
    p50_s: float | None = None
    p90_s: float | None = None
    p99_s: float | None = None
    max_s: float | None = None


class ResponseTimes(BaseModel):
    intervals: list[IntervalFigures]
    tests_excluded: int = Field(..., ge=0, description="Tests and drills in the period, left out")
