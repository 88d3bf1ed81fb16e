"""Per-school tallies of patrol coverage and guard-post staffing: the part of those reports that
adds up over disjoint stretches of time, so the database can keep it per day and per month
(services/reporting/rollups.py) and a report of a year reads twelve months, not every record.

A tally is a plain mapping facet → {field: number | list}: numbers add, lists are sets (their
union, kept sorted). Pure functions, the same for the roll-ups, for the edges of a period that
are not whole days, and for the in-memory fake the contract tests hold MongoDB to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.events import CheckinRecorded, GuardPostWindow, PointVisited

ALL = "*"  # the facet that counts every kind at once (no `kind` filter)
POINT_KINDS = ("must_reach", "must_patrol", "stop")
WINDOWS = ("morning", "noon", "afternoon")

Fields = dict[str, Any]
Facets = dict[str, Fields]  # facet → fields
Tallies = dict[str, Facets]  # school_id → facets


@dataclass(frozen=True)
class Shape:
    """What a tally holds: the facets it is kept by, the fields that add, the fields that are
    sets."""

    facets: tuple[str, ...]
    sums: tuple[str, ...]
    sets: tuple[str, ...]

    def empty(self) -> Fields:
        return {f: 0 for f in self.sums} | {f: [] for f in self.sets}


COVERAGE = Shape(
    facets=(ALL, *POINT_KINDS),
    sums=("checkins", "flagged", "visits", "dwell_s", "days"),
    sets=("points",),
)
GUARD = Shape(facets=WINDOWS, sums=("windows", "staffed", "late", "empty"), sets=("gap_days",))


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The county's calendar day of a moment (what a supervisor calls that day)."""
    return moment.astimezone(zone).date()


def merge(shape: Shape, parts: Iterable[Facets]) -> Facets:
    """Tallies of disjoint stretches of time as one: numbers add, sets join."""
    whole: Facets = {}
    for part in parts:
        for facet, fields in part.items():
            into = whole.setdefault(facet, shape.empty())
            for name in shape.sums:
                into[name] += fields.get(name) or 0
            for name in shape.sets:
                into[name] = sorted(set(into[name]) | set(fields.get(name) or ()))
    return whole


def merge_schools(shape: Shape, parts: Iterable[Tallies]) -> Tallies:
    by_school: dict[str, list[Facets]] = defaultdict(list)
    for part in parts:
        for school_id, facets in part.items():
            by_school[school_id].append(facets)
    return {school_id: merge(shape, facets) for school_id, facets in by_school.items()}


def coverage(
    checkins: Sequence[CheckinRecorded], visits: Sequence[PointVisited], zone: ZoneInfo
) -> Tallies:
    """Per school and point kind (and all kinds, `*`): accepted check-ins, flagged ones, visits
    seen in positions, their dwell, the days anyone came (county days) and the points reached."""
    days: dict[tuple[str, str], set[date]] = defaultdict(set)
    tallies: Tallies = defaultdict(dict)

    def count(school_id: str, kind: str, field: str, amount: float) -> None:
        for facet in (ALL, kind):
            fields = tallies[school_id].setdefault(facet, COVERAGE.empty())
            fields[field] += amount

    def reached(school_id: str, kind: str, point_id: str, day: date) -> None:
        for facet in (ALL, kind):
            fields = tallies[school_id].setdefault(facet, COVERAGE.empty())
            if point_id not in fields["points"]:
                fields["points"] = sorted({*fields["points"], point_id})
            days[(school_id, facet)].add(day)

    for checkin in checkins:
        if checkin.flagged:
            count(checkin.school_id, checkin.point_kind, "flagged", 1)
            continue
        count(checkin.school_id, checkin.point_kind, "checkins", 1)
        reached(
            checkin.school_id, checkin.point_kind, checkin.point_id, local_day(checkin.at, zone)
        )
    for visit in visits:
        count(visit.school_id, visit.point_kind, "visits", 1)
        count(visit.school_id, visit.point_kind, "dwell_s", visit.dwell_s)
        reached(
            visit.school_id, visit.point_kind, visit.point_id, local_day(visit.arrived_at, zone)
        )
    for (school_id, facet), seen in days.items():
        tallies[school_id][facet]["days"] = len(seen)
    return dict(tallies)


def guard(windows: Sequence[GuardPostWindow]) -> Tallies:
    """Per school and rush-hour window: windows judged, staffed, late, empty, and the days
    it was empty."""
    tallies: Tallies = defaultdict(dict)
    for window in windows:
        fields = tallies[window.school_id].setdefault(window.window, GUARD.empty())
        fields["windows"] += 1
        fields[window.state] += 1
        if window.state == "empty":
            fields["gap_days"] = sorted({*fields["gap_days"], window.day.isoformat()})
    return dict(tallies)


def facet_of(facets: Mapping[str, Fields], shape: Shape, facet: str) -> Fields:
    """One facet's fields, zeros when nothing was counted under it."""
    return facets.get(facet) or shape.empty()
