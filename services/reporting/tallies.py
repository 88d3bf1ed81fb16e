"""What the reports count, before it is turned into report rows: the repository gives these,
MongoDB by aggregation, the in-memory fake by these pure functions over the records (the
contract tests hold the one to the other).

Patrol coverage and guard-post staffing are per-school tallies that add up over disjoint
stretches of time, so the database keeps them per day and per month
(services/reporting/rollups.py) and a report of a year reads twelve months, not every record.
Such a tally is a mapping facet → {field: number | list}: numbers add, lists are sets (their
union, kept sorted)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.reporting.models import AlarmFact
from shared.events import (
    INSPECTION_ITEMS,
    ActivityRecorded,
    CheckinRecorded,
    Drill,
    GuardPostWindow,
    Inspection,
    Letters,
    PointVisited,
    Session,
    ViolationRecorded,
)

ALL = "all"  # the facet that counts every kind at once (no `kind` filter)
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


# --- counts the database computes in one aggregation (no roll-up needed) -------------------

NO_CAMPAIGN = ("-", "(no campaign)")
ViolationKey = tuple[str, str, str]  # campaign id, campaign name, kind


def violation_key(record: ViolationRecorded) -> ViolationKey:
    campaign = record.campaign
    ids = (campaign.campaign_id, campaign.name) if campaign else NO_CAMPAIGN
    return (*ids, record.kind)


# press → each of these, the intervals the bureau is asked about
INTERVALS = ("acknowledged", "unit_assigned", "on_scene", "resolved")


@dataclass(frozen=True)
class AlarmTally:
    """Alarms raised in a period: real ones and tests apart, the seconds from the press to each
    state of the real ones (sorted), and alarms per (kind, outcome, test)."""

    real: int
    tests: int
    seconds: Mapping[str, list[float]]
    outcomes: Mapping[tuple[str, str, bool], int]


def outcome(closed: str | None, how: str | None) -> str:
    """`open` while not resolved or cancelled, else `<resolved|cancelled>:<outcome>`."""
    return "open" if closed is None else f"{closed}:{how or 'unspecified'}"


def alarms(facts: Sequence[AlarmFact]) -> AlarmTally:
    real = [f for f in facts if not f.test]
    seconds = {
        state: sorted(
            (f.states[state] - f.pressed_at).total_seconds() for f in real if state in f.states
        )
        for state in INTERVALS
    }
    outcomes = Counter((f.kind, outcome(f.closed, f.outcome), f.test) for f in facts)
    return AlarmTally(len(real), len(facts) - len(real), seconds, outcomes)


@dataclass(frozen=True)
class InspectionTally:
    """Inspections in a period: how many, how many passed every item, passes per item, and
    whether each inspected school's latest one passed every item."""

    inspections: int
    met: int
    passed: Mapping[str, int]
    latest_ok: Mapping[str, bool]


def inspections(records: Sequence[ActivityRecorded]) -> InspectionTally:
    checks = [(r, r.activity) for r in records if isinstance(r.activity, Inspection)]
    latest: dict[str, bool] = {}
    for record, inspection in sorted(checks, key=lambda c: c[0].held_at):
        latest[record.school_id] = all(inspection.items.values())
    return InspectionTally(
        inspections=len(checks),
        met=sum(all(i.items.values()) for _, i in checks),
        passed={item: sum(i.items[item] for _, i in checks) for item in INSPECTION_ITEMS},
        latest_ok=latest,
    )


@dataclass(frozen=True)
class OutreachTally:
    """Sessions, their audience and letters per topic; drills and their participants; schools
    reached by a session or letters."""

    schools_reached: int
    sessions: Mapping[str, int]
    audience: Mapping[str, int]
    letters: Mapping[str, int]
    drills: int
    drill_participants: int


def outreach(records: Sequence[ActivityRecorded]) -> OutreachTally:
    sessions = [(r, r.activity) for r in records if isinstance(r.activity, Session)]
    letters = [(r, r.activity) for r in records if isinstance(r.activity, Letters)]
    drills = [r.activity for r in records if isinstance(r.activity, Drill)]
    audience: Counter[str] = Counter()
    handed: Counter[str] = Counter()
    for _, session in sessions:
        audience[session.topic] += session.audience
    for _, batch in letters:
        handed[batch.topic] += batch.letters
    return OutreachTally(
        schools_reached=len({r.school_id for r, _ in sessions} | {r.school_id for r, _ in letters}),
        sessions=Counter(a.topic for _, a in sessions),
        audience=audience,
        letters=handed,
        drills=len(drills),
        drill_participants=sum(d.participants for d in drills),
    )


def flatten(shape: Shape, facets: Mapping[str, Fields]) -> Fields:
    """Every field of every facet as `<facet>_<field>` (zeros where nothing was counted): a
    document's top-level fields are what MongoDB's aggregation reads fastest."""
    flat: Fields = {}
    for facet in shape.facets:
        fields = facets.get(facet) or shape.empty()
        for name in (*shape.sums, *shape.sets):
            flat[f"{facet}_{name}"] = fields[name]
    return flat


def unflatten(shape: Shape, flat: Mapping[str, Any]) -> Facets:
    return {
        facet: {
            **{name: flat.get(f"{facet}_{name}") or 0 for name in shape.sums},
            **{name: list(flat.get(f"{facet}_{name}") or ()) for name in shape.sets},
        }
        for facet in shape.facets
    }


def add_inspections(parts: Sequence[InspectionTally]) -> InspectionTally:
    """Tallies of disjoint sets of schools as one."""
    passed: Counter[str] = Counter()
    latest: dict[str, bool] = {}
    for part in parts:
        passed.update(part.passed)
        latest.update(part.latest_ok)
    return InspectionTally(
        inspections=sum(p.inspections for p in parts),
        met=sum(p.met for p in parts),
        passed={item: passed[item] for item in INSPECTION_ITEMS},
        latest_ok=latest,
    )


def add_outreach(parts: Sequence[OutreachTally]) -> OutreachTally:
    """Tallies of disjoint sets of schools as one."""
    sessions: Counter[str] = Counter()
    audience: Counter[str] = Counter()
    letters: Counter[str] = Counter()
    for part in parts:
        sessions.update(part.sessions)
        audience.update(part.audience)
        letters.update(part.letters)
    return OutreachTally(
        schools_reached=sum(p.schools_reached for p in parts),
        sessions=sessions,
        audience=audience,
        letters=letters,
        drills=sum(p.drills for p in parts),
        drill_participants=sum(p.drill_participants for p in parts),
    )
