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
from dataclasses import dataclass, field
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
    SchoolWindowPatrolled,
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
MODES = ("vehicle", "foot", "special")
SEEN = Shape(facets=WINDOWS, sums=("windows", "seen", "minutes", "window_minutes", *MODES), sets=())


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


def merge_fields(shape: Shape, parts: Iterable[Fields]) -> Fields:
    """Fields (of any facets) as one: numbers add, sets join."""
    return merge(shape, ({ALL: fields} for fields in parts)).get(ALL, shape.empty())


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


def seen(windows: Sequence[SchoolWindowPatrolled]) -> Tallies:
    """Per school and rush-hour window: windows worked out, those with a unit near, minutes
    present and in all, and the windows each mode of patrol was near in."""
    tallies: Tallies = defaultdict(dict)
    for window in windows:
        fields = tallies[window.school.school_id].setdefault(window.window, SEEN.empty())
        fields["windows"] += 1
        fields["seen"] += window.seen
        fields["minutes"] += window.minutes_present
        fields["window_minutes"] += window.window_minutes
        for mode in {u.mode for u in window.units}:
            fields[mode] += 1
    return dict(tallies)


# --- alarms and violations: what their ledgers count ----------------------------------------

NO_CAMPAIGN = ("-", "(no campaign)")
ViolationKey = tuple[str, str, str]  # campaign id, campaign name, kind


def violation_key(record: ViolationRecorded) -> ViolationKey:
    campaign = record.campaign
    ids = (campaign.campaign_id, campaign.name) if campaign else NO_CAMPAIGN
    return (*ids, record.kind)


# press → each of these, the intervals the bureau is asked about
INTERVALS = ("acknowledged", "unit_assigned", "on_scene", "resolved")
# the states whose arrival changes what an alarm ledger counts (its raise, an interval, its end)
TALLIED_STATES = frozenset({"raised", *INTERVALS, "cancelled"})


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
    return alarm_tally(alarm_ledger(facts))


def alarm_ledger(facts: Sequence[AlarmFact]) -> Ledger:
    """Alarms per (kind, outcome, test or real); per state and kind, the seconds from the
    press of each real one that reached it."""
    counts: Counter[Key] = Counter()
    values: dict[Key, list[float]] = defaultdict(list)
    for fact in facts:
        counts[("alarms", fact.kind, outcome(fact.closed, fact.outcome), _tested(fact.test))] += 1
        if fact.test:
            continue
        for state in INTERVALS:
            if state in fact.states:
                seconds = (fact.states[state] - fact.pressed_at).total_seconds()
                values[("seconds", state, fact.kind)].append(seconds)
    return Ledger(dict(counts), values={key: tuple(some) for key, some in values.items()})


def _tested(test: bool) -> str:
    return "test" if test else "real"


def alarm_tally(ledger: Ledger, kind: str | None = None) -> AlarmTally:
    """The alarms of a ledger, of one kind (None: all)."""
    outcomes: Counter[tuple[str, str, bool]] = Counter()
    for key, n in ledger.counts.items():
        if key[0] == "alarms" and kind in (None, key[1]):
            outcomes[(key[1], key[2], key[3] == _tested(True))] += n
    seconds: dict[str, list[float]] = {state: [] for state in INTERVALS}
    for (_, state, of_kind), some in ledger.values.items():
        if kind in (None, of_kind):
            seconds[state].extend(some)
    real = sum(n for (_, _, test), n in outcomes.items() if not test)
    return AlarmTally(
        real, sum(outcomes.values()) - real, {s: sorted(v) for s, v in seconds.items()}, outcomes
    )


@dataclass(frozen=True)
class InspectionTally:
    """Inspections in a period: how many, how many passed every item, passes per item, and
    whether each inspected school's latest one passed every item."""

    inspections: int
    met: int
    passed: Mapping[str, int]
    latest_ok: Mapping[str, bool]


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


# --- ledgers: what alarms, violations and activities reports count, mergeable ---------------

Key = tuple[str, ...]
Verdict = tuple[float, bool]  # POSIX seconds, passed


@dataclass(frozen=True)
class Ledger:
    """Counts by key (they add), values by key (lists: they join) and, per school, its latest
    verdict as (POSIX seconds, ok) (the later wins; at the same moment a failure): the alarms,
    violations and activities reports read nothing else, so a ledger of a township's day,
    month or year stands for its records (services/reporting/ledgers.py)."""

    counts: Mapping[Key, int] = field(default_factory=dict)
    latest: Mapping[str, Verdict] = field(default_factory=dict)
    values: Mapping[Key, tuple[float, ...]] = field(default_factory=dict)


def _keep_later(latest: dict[str, Verdict], school_id: str, verdict: Verdict) -> None:
    """Keep the school's later verdict; at the same moment, a failure."""
    held = latest.get(school_id)
    later = verdict if held is None else max(held, verdict, key=lambda v: (v[0], not v[1]))
    latest[school_id] = later


def merge_ledgers(parts: Iterable[Ledger]) -> Ledger:
    """Ledgers of disjoint records as one."""
    counts: Counter[Key] = Counter()
    latest: dict[str, Verdict] = {}
    values: dict[Key, list[float]] = defaultdict(list)
    for part in parts:
        counts.update(part.counts)
        for school_id, verdict in part.latest.items():
            _keep_later(latest, school_id, verdict)
        for key, some in part.values.items():
            values[key].extend(some)
    joined = {key: tuple(some) for key, some in values.items() if some}
    return Ledger({k: n for k, n in counts.items() if n}, latest, joined)


def ledger_fields(ledger: Ledger) -> Fields:
    """As a document's fields: `counts` [[*key, n], ...], `latest` [[school, seconds, ok]],
    `values` [[*key, [value, ...]], ...]."""
    return {
        "counts": [[*key, n] for key, n in sorted(ledger.counts.items()) if n],
        "latest": [[s, at, ok] for s, (at, ok) in sorted(ledger.latest.items())],
        "values": [[*key, list(some)] for key, some in sorted(ledger.values.items()) if some],
    }


def ledger_of(fields: Mapping[str, Any]) -> Ledger:
    counts = {tuple(row[:-1]): row[-1] for row in fields.get("counts") or ()}
    latest = {row[0]: (row[1], row[2]) for row in fields.get("latest") or ()}
    values = {tuple(row[:-1]): tuple(row[-1]) for row in fields.get("values") or ()}
    return Ledger(counts, latest, values)


def violation_ledger(records: Sequence[ViolationRecorded]) -> Ledger:
    return Ledger(dict(Counter(violation_key(r) for r in records)))


def violation_counts(ledger: Ledger, kind: str | None = None) -> Counter[ViolationKey]:
    """Per (campaign id, campaign name, kind), of one kind (None: all)."""
    counts: Counter[ViolationKey] = Counter()
    for (campaign_id, name, violation), n in ledger.counts.items():
        if kind is None or violation == kind:
            counts[(campaign_id, name, violation)] += n
    return counts


def activity_ledger(records: Sequence[ActivityRecorded]) -> Ledger:
    """Inspections (and per item the passes), sessions, audience and letters per topic,
    drills and participants, schools reached; each school's latest inspection verdict."""
    counts: Counter[Key] = Counter()
    latest: dict[str, Verdict] = {}
    for record in records:
        activity, school_id = record.activity, record.school_id
        if isinstance(activity, Inspection):
            ok = all(activity.items.values())
            counts[("inspections",)] += 1
            counts[("met",)] += ok
            for item in INSPECTION_ITEMS:
                counts[("passed", item)] += activity.items[item]
            _keep_later(latest, school_id, (record.held_at.timestamp(), ok))
        elif isinstance(activity, Session):
            counts[("sessions", activity.topic)] += 1
            counts[("audience", activity.topic)] += activity.audience
            counts[("reached", school_id)] += 1
        elif isinstance(activity, Letters):
            counts[("letters", activity.topic)] += activity.letters
            counts[("reached", school_id)] += 1
        elif isinstance(activity, Drill):
            counts[("drills",)] += 1
            counts[("participants",)] += activity.participants
    return Ledger({k: n for k, n in counts.items() if n}, latest)


OUTREACH_COUNTS = ("reached", "sessions", "audience", "letters")  # by school or topic


def inspection_tally(ledger: Ledger) -> InspectionTally:
    counts = ledger.counts
    return InspectionTally(
        inspections=counts.get(("inspections",), 0),
        met=counts.get(("met",), 0),
        passed={item: counts.get(("passed", item), 0) for item in INSPECTION_ITEMS},
        latest_ok={school_id: ok for school_id, (_, ok) in ledger.latest.items()},
    )


def outreach_tally(ledger: Ledger) -> OutreachTally:
    by: dict[str, Counter[str]] = {name: Counter() for name in OUTREACH_COUNTS}
    for key, n in ledger.counts.items():
        if key[0] in by:
            by[key[0]][key[1]] += n
    return OutreachTally(
        schools_reached=len(by["reached"]),
        sessions=by["sessions"],
        audience=by["audience"],
        letters=by["letters"],
        drills=ledger.counts.get(("drills",), 0),
        drill_participants=ledger.counts.get(("participants",), 0),
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
