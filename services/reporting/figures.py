"""Report figures computed from read-model rows: pure functions, so every figure can be checked
exactly in tests (nearest-rank percentiles: a reported value is always one that happened)."""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from services.reporting import tallies
from services.reporting.models import (
    AlarmOutcomeRow,
    CampaignRow,
    CommunityCheckRow,
    CommunityChecksReport,
    CoverageRow,
    GateVisitRow,
    GateVisitsReport,
    GuardPostRow,
    HazardRow,
    HazardsReport,
    InspectionItemRow,
    InspectionsReport,
    IntervalFigures,
    OutreachReport,
    OutreachRow,
    ResponseTimes,
    VideoBulletin,
    VideoCheckRow,
    ViolationRow,
    ViolationsReport,
    VisibilityReport,
    VisibilityRow,
)
from services.reporting.tallies import (
    INTERVALS,
    NO_CAMPAIGN,
    WINDOWS,
    AlarmTally,
    Facets,
    Fields,
    InspectionTally,
    OutreachTally,
    ViolationKey,
)
from shared.events import (
    THREE_DEFENCES,
    CampaignOpened,
    CommunityCheckRecorded,
    GateVisitChanged,
    GuardPostWindow,
    HazardChanged,
    VideoCheckRecorded,
)
from shared.provisioning import County, PatrolPoint, School


def nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile by nearest rank (ceil(p/100 · n)-th smallest)."""
    index = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[index]


def response_times(tally: AlarmTally) -> list[IntervalFigures]:
    """Seconds from the press to each state, over real alarms only (tests and drills never
    enter these figures); an alarm that never reached a state is counted as `missing`."""
    figures = []
    for state in INTERVALS:
        seconds = tally.seconds.get(state) or []
        figures.append(
            IntervalFigures(
                interval=f"press_to_{state}",
                alarms=len(seconds),
                missing=tally.real - len(seconds),
                p50_s=nearest_rank(seconds, 50) if seconds else None,
                p90_s=nearest_rank(seconds, 90) if seconds else None,
                p99_s=nearest_rank(seconds, 99) if seconds else None,
                max_s=seconds[-1] if seconds else None,
            )
        )
    return figures


def rate(part: int, whole: int) -> float | None:
    """part / whole to 4 decimals; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


def alarms_by_outcome(tally: AlarmTally) -> list[AlarmOutcomeRow]:
    """Alarms per kind and way they ended; tests and drills in their own column."""
    counts = tally.outcomes
    keys = sorted({(kind, outcome) for kind, outcome, _ in counts})
    return [
        AlarmOutcomeRow(
            kind=kind,
            outcome=outcome,
            alarms=counts.get((kind, outcome, False), 0),
            tests=counts.get((kind, outcome, True), 0),
        )
        for kind, outcome in keys
    ]


def guard_posts(found: Mapping[str, Facets], county: County) -> list[GuardPostRow]:
    """Staffing per school and rush-hour window, from each window's final outcome."""
    rows = []
    for school_id, facets in sorted(found.items()):
        school = county.school(school_id)
        for window in WINDOWS:
            fields = facets.get(window)
            if not fields or not fields["windows"]:
                continue
            rows.append(
                GuardPostRow(
                    school_id=school_id,
                    name=school.name if school else school_id,
                    township=school.township if school else "",
                    window=window,
                    windows=fields["windows"],
                    staffed=fields["staffed"],
                    late=fields["late"],
                    empty=fields["empty"],
                    staffing_rate=rate(fields["staffed"], fields["windows"]),
                    gap_days=fields["gap_days"],
                )
            )
    return rows


def coverage(
    found: Mapping[str, Fields], schools: Sequence[School], points: Sequence[PatrolPoint]
) -> list[CoverageRow]:
    """Per school: which of its patrol points units reached (an accepted check-in, or a visit
    seen in their positions), how often, and how long they stayed."""
    points_of: dict[str, set[str]] = defaultdict(set)
    for point in points:
        points_of[point.school_id].add(point.point_id)
    rows = []
    for school in sorted(schools, key=lambda s: s.school_id):
        fields = found.get(school.school_id) or tallies.COVERAGE.empty()
        mine = points_of[school.school_id]
        reached = set(fields["points"]) & mine
        rows.append(
            CoverageRow(
                school_id=school.school_id,
                name=school.name,
                township=school.township,
                points=len(mine),
                points_visited=len(reached),
                checkins=fields["checkins"],
                flagged=fields["flagged"],
                visits=fields["visits"],
                dwell_s=fields["dwell_s"],
                days_visited=fields["days"],
                covered=bool(mine) and reached == mine,
            )
        )
    return rows


def violations(counts: Counter[ViolationKey], held: Sequence[CampaignOpened]) -> ViolationsReport:
    """Violations per campaign and kind; the campaigns held (even those that found nothing)
    and those the violations name."""
    per_campaign: Counter[str] = Counter()
    names: dict[str, str] = {}
    by_kind: Counter[str] = Counter()
    for (campaign_id, name, kind), n in counts.items():
        by_kind[kind] += n
        if campaign_id != NO_CAMPAIGN[0]:
            per_campaign[campaign_id] += n
            names.setdefault(campaign_id, name)
    campaigns = {
        c.campaign_id: CampaignRow(
            campaign_id=c.campaign_id,
            name=c.name,
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            violations=per_campaign[c.campaign_id],
        )
        for c in held
    }
    for campaign_id, name in names.items():
        if campaign_id not in campaigns:
            campaigns[campaign_id] = CampaignRow(
                campaign_id=campaign_id, name=name, violations=per_campaign[campaign_id]
            )
    return ViolationsReport(
        total=sum(counts.values()),
        campaigns=len(campaigns),
        by_kind=dict(sorted(by_kind.items())),
        rows=[
            ViolationRow(campaign_id=cid, campaign=name, kind=kind, violations=n)
            for (cid, name, kind), n in sorted(counts.items())
            if n
        ],
        held=sorted(campaigns.values(), key=lambda c: c.campaign_id),
    )


def inspections(tally: InspectionTally) -> InspectionsReport:
    """Pass rate per checklist item; 'three defences met' when every item of an inspection
    passed; a school fails while its latest inspection has a failed item."""
    checked = tally.inspections
    items = [
        InspectionItemRow(
            item=item,
            defence=defence,
            checked=checked,
            passed=tally.passed.get(item, 0),
            pass_rate=rate(tally.passed.get(item, 0), checked),
        )
        for defence, names in THREE_DEFENCES.items()
        for item in names
    ]
    return InspectionsReport(
        inspections=checked,
        schools=len(tally.latest_ok),
        three_defences_met=tally.met,
        three_defences_rate=rate(tally.met, checked),
        schools_failing=sorted(s for s, ok in tally.latest_ok.items() if not ok),
        items=items,
    )


def outreach(tally: OutreachTally) -> OutreachReport:
    """Sessions, audience and letters per topic; drills; schools reached by any of them."""
    topics = sorted(
        {t for t, n in tally.sessions.items() if n} | {t for t, n in tally.letters.items() if n}
    )
    return OutreachReport(
        schools_reached=tally.schools_reached,
        sessions=sum(tally.sessions.values()),
        audience=sum(tally.audience.values()),
        letters=sum(tally.letters.values()),
        drills=tally.drills,
        drill_participants=tally.drill_participants,
        by_topic=[
            OutreachRow(
                topic=topic,
                sessions=tally.sessions.get(topic, 0),
                audience=tally.audience.get(topic, 0),
                letters=tally.letters.get(topic, 0),
            )
            for topic in topics
        ],
    )


def sentence(summary_counts: dict[str, int]) -> str:
    """'4 campaigns, 213 violations, 62 schools, 93 sessions, 40,500 letters' (the article's
    own way of putting it)."""
    labels = (
        ("campaigns", "campaign"),
        ("violations", "violation"),
        ("schools_reached", "school"),
        ("sessions", "session"),
        ("letters", "letter"),
    )
    parts = []
    for field, noun in labels:
        n = summary_counts[field]
        parts.append(f"{n:,} {noun}{'' if n == 1 else 's'}")
    return ", ".join(parts)


def response_times_report(tally: AlarmTally) -> ResponseTimes:
    """The response-time figures, and how many tests and drills were left out of them."""
    return ResponseTimes(intervals=response_times(tally), tests_excluded=tally.tests)


Versioned = TypeVar("Versioned", HazardChanged, GateVisitChanged)


def as_it_stood(
    changes: Sequence[Versioned], key: Callable[[Versioned], uuid.UUID], at: datetime
) -> list[Versioned]:
    """Each thing's newest change by `at` (its highest version that had happened by then)."""
    newest: dict[uuid.UUID, Versioned] = {}
    for change in changes:
        held = newest.get(key(change))
        if change.occurred_at <= at and (held is None or held.version < change.version):
            newest[key(change)] = change
    return list(newest.values())


def hazards(changes: Sequence[HazardChanged], *, at: datetime) -> HazardsReport:
    """Each hazard as it stood at `at` (its newest change by then), counted overall, by its
    department and by its school's township."""
    groups: dict[tuple[str | None, str | None], list[HazardChanged]] = defaultdict(list)
    for hazard in as_it_stood(changes, lambda h: h.hazard_id, at):
        groups[(None, None)].append(hazard)
        if hazard.department is not None:
            groups[(hazard.department, None)].append(hazard)
        groups[(None, hazard.school.township)].append(hazard)
    order = sorted(groups, key=lambda g: (g != (None, None), g[0] is None, g[0] or "", g[1] or ""))
    return HazardsReport(at=at, rows=[_hazard_row(g, groups[g], at) for g in order])


def visibility(found: Mapping[str, Facets], county: County) -> VisibilityReport:
    """Police visibility from each school's tallies (facets: its windows of the day), over all
    schools, then by township, then by school."""
    groups: dict[tuple[str | None, str | None], list[Fields]] = defaultdict(list)
    groups[(None, None)] = []
    for school_id, facets in found.items():
        school = county.school(school_id)
        township = school.township if school else None
        fields = tallies.merge_fields(tallies.SEEN, facets.values())
        for group in ((None, None), (township, None), (township, school_id)):
            groups[group].append(fields)
    order = sorted(
        groups, key=lambda g: (g[0] is not None, g[1] is not None, g[0] or "", g[1] or "")
    )
    return VisibilityReport(rows=[_visibility_row(g, groups[g], county) for g in order])


def visibility_totals(found: Mapping[str, Facets]) -> tuple[int, float | None]:
    """How many windows, and the share with a unit near."""
    whole = tallies.merge_fields(tallies.SEEN, (f for fs in found.values() for f in fs.values()))
    return whole["windows"], rate(whole["seen"], whole["windows"])


def _visibility_row(
    group: tuple[str | None, str | None], parts: list[Fields], county: County
) -> VisibilityRow:
    township, school_id = group
    fields = tallies.merge_fields(tallies.SEEN, parts)
    school = county.school(school_id) if school_id else None
    return VisibilityRow(
        township=township,
        school_id=school_id,
        school_name=school.name if school else None,
        school_windows=fields["windows"],
        seen=fields["seen"],
        visibility_rate=rate(fields["seen"], fields["windows"]),
        minutes_present=fields["minutes"],
        presence_rate=rate(fields["minutes"], fields["window_minutes"]),
        vehicle=fields["vehicle"],
        foot=fields["foot"],
        special=fields["special"],
    )


def gate_visits(changes: Sequence[GateVisitChanged], *, at: datetime) -> GateVisitsReport:
    """Each visit as it stood at `at` (its newest change by then), counted over all schools,
    then per school."""
    visits = as_it_stood(changes, lambda v: v.visit_id, at)
    by_school: dict[str, list[GateVisitChanged]] = defaultdict(list)
    for visit in visits:
        by_school[visit.school.school_id].append(visit)
    rows = [_visit_row(None, visits, at)]
    rows += [_visit_row(by_school[s][0], by_school[s], at) for s in sorted(by_school)]
    return GateVisitsReport(at=at, rows=rows)


def _visit_row(
    one: GateVisitChanged | None, visits: list[GateVisitChanged], at: datetime
) -> GateVisitRow:
    stays = sorted(
        (v.left_at - v.arrived_at).total_seconds() / 60
        for v in visits
        if v.left_at is not None and v.left_at <= at
    )
    return GateVisitRow(
        school_id=None if one is None else one.school.school_id,
        school_name=None if one is None else one.school.name,
        township=None if one is None else one.school.township,
        visitors=len(visits),
        still_inside=sum(v.left_at is None or v.left_at > at for v in visits),
        after_hours=sum(v.after_hours for v in visits),
        stay_p50_min=round(nearest_rank(stays, 50), 1) if stays else None,
    )


def community_checks(checks: Sequence[CommunityCheckRecorded]) -> CommunityChecksReport:
    """The checks counted overall, then by their school's township."""
    groups: dict[str | None, list[CommunityCheckRecorded]] = defaultdict(list)
    for check in checks:
        groups[None].append(check)
        groups[check.school.township].append(check)
    order = sorted(groups, key=lambda township: (township is not None, township or ""))
    return CommunityChecksReport(rows=[_community_row(t, groups[t]) for t in order])


def _community_row(township: str | None, checks: list[CommunityCheckRecorded]) -> CommunityCheckRow:
    return CommunityCheckRow(
        township=township,
        checks=len(checks),
        rental_housing=sum(c.premises_kind == "rental_housing" for c in checks),
        hotels=sum(c.premises_kind == "hotel" for c in checks),
        people=sum(c.people for c in checks),
        unregistered=sum(c.unregistered for c in checks),
        newly_arrived=sum(c.newly_arrived for c in checks),
        items_failed=sum(len(c.failed) for c in checks),
        issues=sum(c.issues for c in checks),
        hazards=sum(len(c.hazard_ids) for c in checks),
    )


def _hazard_row(
    group: tuple[str | None, str | None], found: list[HazardChanged], at: datetime
) -> HazardRow:
    return HazardRow(
        department=group[0],
        township=group[1],
        found=len(found),
        open=sum(h.department is None for h in found),
        assigned=sum(h.department is not None for h in found),
        rectified_on_time=sum(h.on_time() is True for h in found),
        rectified_late=sum(h.on_time() is False for h in found),
        overdue=sum(h.rectified_at is None and h.overdue_at(at) for h in found),
        verified=sum(h.state == "verified" for h in found),
    )


def video_bulletin(
    checks: Sequence[VideoCheckRecorded], windows: Sequence[GuardPostWindow]
) -> VideoBulletin:
    """Each check beside its post's GPS verdict: the final outcome of the window it fell in
    says whether the unit had arrived by then."""
    finals = [w for w in windows if w.final]
    rows = []
    for check in sorted(checks, key=lambda c: c.at):
        gps = _gps_on_post(check, finals)
        seen = check.officer_on_post
        rows.append(
            VideoCheckRow(
                at=check.at,
                township=check.school.township,
                school_name=check.school.name,
                post_id=check.post_id,
                officer_on_post=seen,
                gps_on_post=gps,
                disagrees=seen is not None and gps is not None and seen != gps,
                traffic=check.traffic,
                patrol_seen=check.patrol_seen,
                snapshot=check.snapshot,
                note=check.note,
                checked_by=check.checked_by,
            )
        )
    return VideoBulletin(
        checks=len(rows),
        officer_absent=sum(r.officer_on_post is False for r in rows),
        congested=sum(r.traffic == "congested" for r in rows),
        blocked=sum(r.traffic == "blocked" for r in rows),
        patrol_seen=sum(r.patrol_seen for r in rows),
        disagreements=sum(r.disagrees for r in rows),
        rows=rows,
    )


def _gps_on_post(check: VideoCheckRecorded, finals: Sequence[GuardPostWindow]) -> bool | None:
    for window in finals:
        if window.post_id == check.post_id and window.window_start <= check.at < window.window_end:
            if window.arrived_at is not None:
                return window.arrived_at <= check.at
            return window.state == "staffed"  # staffed from the start; late or empty: not yet
    return None
