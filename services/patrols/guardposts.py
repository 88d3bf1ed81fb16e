"""Guard posts (护学岗) at school gates in rush hours: the school calendar, the windows of a
day, and how a post's window is judged (staffed, late, empty). Pure: no I/O.

定人、定岗、定责、定时: a roster entry puts one unit at one post (a school's stop point) for the
named windows; a school calendar says which days have windows and which are exam days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

WindowName = Literal["morning", "noon", "afternoon"]
PostState = Literal["pending", "staffed", "late", "empty"]


# The county's wall-clock time of day. Schema'd as text, not JSON Schema's `time` format,
# which demands an offset that a local time does not have.
LocalTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
            "description": "Local time of day in the county, HH:MM or HH:MM:SS",
            "examples": ["07:00"],
        }
    ),
]


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("end is not after start")
        return self


DEFAULT_WINDOWS: dict[WindowName, Window] = {
    "morning": Window(start=time(7, 0), end=time(8, 0)),
    "noon": Window(start=time(11, 40), end=time(12, 20)),
    "afternoon": Window(start=time(17, 0), end=time(17, 50)),
}


@cache
def known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


class Calendar(BaseModel):
    """The county's school calendar (PUT /v1/calendar)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field("Asia/Shanghai", description="An IANA time zone name")
    school_weekdays: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday"
    )
    windows: dict[WindowName, Window] = Field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    holidays: list[date] = Field(default_factory=list, description="No windows on these days")
    extra_school_days: list[date] = Field(
        default_factory=list, description="Make-up school days (e.g. a Saturday)"
    )
    exam_days: dict[date, dict[WindowName, Window]] = Field(
        default_factory=dict, description="Windows that differ on exam days"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        # Looked up in the list, not by ZoneInfo(name): that raises KeyError or OSError (not a
        # validation error) for unknown names and reads files named by the input.
        if name not in known_time_zones():
            raise ValueError(f"unknown time zone {name[:64]!r}; use an IANA name")
        return name

    @model_validator(mode="after")
    def _weekdays(self) -> Calendar:
        if any(not 0 <= d <= 6 for d in self.school_weekdays):
            raise ValueError("school_weekdays are 0 (Monday) to 6 (Sunday)")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_school_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day.weekday() in self.school_weekdays or day in self.extra_school_days

    def windows_on(self, day: date) -> dict[WindowName, tuple[datetime, datetime]]:
        """The day's windows as aware datetimes; none on holidays and non-school days."""
        if not self.is_school_day(day):
            return {}
        windows = self.windows | self.exam_days.get(day, {})
        return {
            name: (
                datetime.combine(day, w.start, tzinfo=self.zone),
                datetime.combine(day, w.end, tzinfo=self.zone),
            )
            for name, w in windows.items()
        }


class RosterEntry(BaseModel):
    """One unit at one post for the named windows, from a date to a date (POST /v1/roster)."""

    model_config = ConfigDict(extra="forbid")

    unit_id: str = Field(..., min_length=1, max_length=64)
    post_id: str = Field(..., description="A school's stop point (停驻点) at its gate")
    windows: list[WindowName] = Field(..., min_length=1)
    valid_from: date
    valid_to: date = Field(..., description="Inclusive")

    @model_validator(mode="after")
    def _dates_in_order(self) -> RosterEntry:
        if self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    def covers(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


def judge(
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    arrived_at: datetime | None,
    grace: timedelta,
) -> PostState:
    """staffed: on post by start + grace; late: on post later; empty: nobody by then (a gap
    while the window is open); pending: the window has not reached start + grace yet."""
    if arrived_at is not None and arrived_at <= end:
        return "staffed" if arrived_at <= start + grace else "late"
    if now >= start + grace:
        return "empty"
    return "pending"
