"""Reporting logic: fold events into read models; answer report queries; record activities."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from services.reporting import devices as devices_figures
from services.reporting import figures, tallies
from services.reporting import trends as weekly
from services.reporting.models import (
    ActivityRequest,
    AlarmOutcomeRow,
    CommunityChecksReport,
    CoverageRow,
    DevicesReport,
    GateVisitsReport,
    GuardPostRow,
    HazardsReport,
    InspectionsReport,
    OutreachReport,
    Overview,
    PeriodSummary,
    ResponseTimes,
    SchoolAlarmCount,
    Trends,
    VideoBulletin,
    ViolationsReport,
    VisibilityReport,
)
from services.reporting.repository import (
    ACTIVITIES,
    CAMPAIGNS,
    CHECKINS,
    COMMUNITY_CHECKS,
    GATE_VISITS,
    GUARD_WINDOWS,
    HAZARDS,
    TROUBLES,
    VIDEO_CHECKS,
    VIOLATIONS,
    VISIBILITY,
    VISITS,
    FactFilter,
    RecordFilter,
    ReportingRepository,
)
from services.reporting.rollups import Stale
from shared.bus.publishers import Publisher
from shared.errors import InvalidInput, field_error, invalid_query
from shared.events import (
    ActivityRecorded,
    AlarmLifecycle,
    CampaignOpened,
    CheckinRecorded,
    CommunityCheckRecorded,
    DeviceTrouble,
    Event,
    GateVisitChanged,
    GuardPostWindow,
    HazardChanged,
    PointVisited,
    SchoolWindowPatrolled,
    VideoCheckRecorded,
    ViolationRecorded,
    stable_id,
    utcnow,
)
from shared.period import Period
from shared.provisioning import County, School
from shared.topics import Topics

EMPTY_COUNTY = County(name="", schools=[], devices=[], units=[])


@dataclass(frozen=True)
class Deps:
    repo: ReportingRepository
    publisher: Publisher
    topics: Topics
    county: County = EMPTY_COUNTY
    max_future_skew_s: float = 300.0
    publish_timeout_s: float = 2.0


@dataclass(frozen=True, kw_only=True)
class Scope(Period):
    """What a report covers: a period, a township or school, a kind (each optional)."""

    township: str | None = None
    school_id: str | None = None
    kind: str | None = None


# --- events into read models --------------------------------------------------------------


async def record_alarm(
    *, deps: Deps, event: AlarmLifecycle, stale: set[Stale] | None = None
) -> None:
    """`stale` (each record_* function): where a batch collects the roll-up and ledger days
    to recompute once at its end (repository.refresh); without it, recomputed at once."""
    await deps.repo.record_alarm(event, stale=stale)


async def record_violation(
    *, deps: Deps, event: ViolationRecorded, stale: set[Stale] | None = None
) -> None:
    await deps.repo.store(VIOLATIONS, event, stale=stale)


async def record_hazard(
    *, deps: Deps, event: HazardChanged, stale: set[Stale] | None = None
) -> None:
    await deps.repo.store(HAZARDS, event, stale=stale)


async def record_video_check(
    *, deps: Deps, event: VideoCheckRecorded, stale: set[Stale] | None = None
) -> None:
    await deps.repo.store(VIDEO_CHECKS, event, stale=stale)


async def record_community_check(
    *, deps: Deps, event: CommunityCheckRecorded, stale: set[Stale] | None = None
) -> None:
    await deps.repo.store(COMMUNITY_CHECKS, event, stale=stale)


async def record_gate_visit(
    *, deps: Deps, event: GateVisitChanged, stale: set[Stale] | None = None
) -> None:
    await deps.repo.store(GATE_VISITS, event, stale=stale)


async def record_school_window(
    *, deps: Deps, event: SchoolWindowPatrolled, stale: set[Stale] | None = None
) -> None:
    await deps.repo.store(VISIBILITY, event, stale=stale)


async def record_campaign(
    *, deps: Deps, event: CampaignOpened, stale: set[Stale] | None = None
) -> None:
    await deps.repo.store(CAMPAIGNS, event, stale=stale)


async def record_checkin(
    *, deps: Deps, event: CheckinRecorded, stale: set[Stale] | None = None
) -> None:
    await deps.repo.store(CHECKINS, event, stale=stale)


async def record_visit(*, deps: Deps, event: PointVisited, stale: set[Stale] | None = None) -> None:
    await deps.repo.store(VISITS, event, stale=stale)


async def record_guard_window(
    *, deps: Deps, event: GuardPostWindow, stale: set[Stale] | None = None
) -> None:
    """Only a window's final outcome is a figure; gaps while it is open are live alerts."""
    if event.final:
        await deps.repo.store(GUARD_WINDOWS, event, stale=stale)


async def record_trouble(
    *, deps: Deps, event: DeviceTrouble, stale: set[Stale] | None = None
) -> None:
    await deps.repo.store(TROUBLES, event, stale=stale)


async def record_activity(
    *, deps: Deps, event: ActivityRecorded, stale: set[Stale] | None = None
) -> None:
    await deps.repo.store(ACTIVITIES, event, stale=stale)


async def record_batch(
    *, deps: Deps, record: Callable[..., Awaitable[None]], events: Sequence[Event]
) -> None:
    """A subscriber's batch in order (one alarm's events are in one partition, in order);
    each event is recorded once by its own id, so a batch handled again changes nothing. Each
    roll-up and ledger day the batch touched is recomputed once, at its end: before its
    offsets are committed, so after a crash the batch comes again and recomputes them."""
    stale: set[Stale] = set()
    for event in events:
        await record(deps=deps, event=event, stale=stale)
    await deps.repo.refresh(stale)


# --- activities ---------------------------------------------------------------------------


async def create_activity(
    *, deps: Deps, request: ActivityRequest, actor: str, now: datetime
) -> ActivityRecorded:
    """Check the activity against the county and the clock, then publish it (202 follows).
    The event id derives from the activity id, so a retried POST is stored once."""
    errors = []
    if deps.county.school(request.school_id) is None:
        errors.append(field_error("school_id", f"unknown school {request.school_id}"))
    if request.held_at > now + timedelta(seconds=deps.max_future_skew_s):
        errors.append(field_error("held_at", "in the future"))
    if errors:
        raise InvalidInput(errors)
    event = ActivityRecorded(
        event_id=stable_id("activity", str(request.activity_id)),
        occurred_at=request.held_at,
        activity_id=request.activity_id,
        school_id=request.school_id,
        held_at=request.held_at,
        recorded_by=actor,
        activity=request.activity,
        notes=request.notes,
    )
    async with asyncio.timeout(deps.publish_timeout_s):  # no broker: 503, the form is resent
        await deps.publisher.publish(deps.topics.activities_recorded, request.school_id, event)
    return event


async def get_activities(*, deps: Deps, scope: Scope) -> list[ActivityRecorded]:
    return await deps.repo.records(ACTIVITIES, _record_filter(deps, scope))


# --- reports ------------------------------------------------------------------------------


def _check(deps: Deps, scope: Scope) -> frozenset[str] | None:
    """The schools in scope (None: all); a period that ends before it starts, an unknown
    township or school is a 422 naming the parameter, never an empty report that looks true."""
    if scope.backwards():
        raise invalid_query("until", "since must be before until")
    schools = deps.county.schools
    if scope.township is not None:
        schools = [s for s in schools if s.township == scope.township]
        if not schools:
            raise invalid_query("township", f"unknown township {scope.township[:64]}")
    if scope.school_id is not None:
        if deps.county.school(scope.school_id) is None:
            raise invalid_query("school_id", f"unknown school {scope.school_id[:64]}")
        schools = [s for s in schools if s.school_id == scope.school_id]
    if scope.township is None and scope.school_id is None:
        return None
    return frozenset(s.school_id for s in schools)


def _record_filter(deps: Deps, scope: Scope, *, kind: bool = True) -> RecordFilter:
    return RecordFilter(
        since=scope.since,
        until=scope.until,
        school_ids=_check(deps, scope),
        kind=scope.kind if kind else None,
        township=scope.township if scope.school_id is None else None,
    )


def _fact_filter(deps: Deps, scope: Scope) -> FactFilter:
    _check(deps, scope)
    return FactFilter(
        since=scope.since,
        until=scope.until,
        township=scope.township,
        school_id=scope.school_id,
        kind=scope.kind,
    )


async def alarms_by_school(
    *, deps: Deps, since: datetime | None, until: datetime | None, township: str | None
) -> list[SchoolAlarmCount]:
    if Period(since=since, until=until).backwards():
        raise invalid_query("until", "since must be before until")
    return await deps.repo.alarms_by_school(since=since, until=until, township=township)


async def response_times(*, deps: Deps, scope: Scope) -> ResponseTimes:
    """Press → acknowledged / unit assigned / on scene / resolved, percentiles over the real
    alarms raised in the period; tests and drills are counted apart, never in the figures."""
    return figures.response_times_report(await deps.repo.alarm_tally(_fact_filter(deps, scope)))


async def alarm_outcomes(*, deps: Deps, scope: Scope) -> list[AlarmOutcomeRow]:
    return figures.alarms_by_outcome(await deps.repo.alarm_tally(_fact_filter(deps, scope)))


async def guard_posts(*, deps: Deps, scope: Scope) -> list[GuardPostRow]:
    return figures.guard_posts(await deps.repo.guard(_record_filter(deps, scope)), deps.county)


async def coverage(*, deps: Deps, scope: Scope) -> list[CoverageRow]:
    """Every school in scope, visited or not (a school nobody visited is the finding)."""
    query = _record_filter(deps, scope)
    school_ids = query.school_ids
    schools = [s for s in deps.county.schools if school_ids is None or s.school_id in school_ids]
    points = [p for p in deps.county.patrol_points if scope.kind in (None, p.kind)]
    return figures.coverage(await deps.repo.coverage(query), schools, points)


async def devices(*, deps: Deps, scope: Scope, now: datetime | None = None) -> DevicesReport:
    """Panic-button availability per school and township. Without `since`, the week before
    `until` (default now): availability needs a period with both ends."""
    school_ids = _check(deps, scope)
    until = scope.until or now or utcnow()
    since = scope.since or until - devices_figures.DEFAULT_SPAN
    period = RecordFilter(since=since, until=until, school_ids=school_ids)
    troubles = await deps.repo.trouble_spans(period)
    schools = [s for s in deps.county.schools if school_ids is None or s.school_id in school_ids]
    return devices_figures.devices_report(troubles, deps.county, schools, since=since, until=until)


async def violations(*, deps: Deps, scope: Scope) -> ViolationsReport:
    counts = await deps.repo.violation_counts(_record_filter(deps, scope))
    return figures.violations(counts, await campaigns_held(deps=deps, scope=scope))


async def hazards(*, deps: Deps, scope: Scope, now: datetime | None = None) -> HazardsReport:
    """Hazards reported in the period, as they stood at its end (or now, if that is earlier)."""
    found = await deps.repo.records(HAZARDS, _record_filter(deps, scope))
    return figures.hazards(found, at=_end_or_now(scope, now))


async def video_checks(*, deps: Deps, scope: Scope) -> VideoBulletin:
    """The period's video checks (a day's: the bulletin), each beside its post's GPS verdict."""
    query = _record_filter(deps, scope)
    checks = await deps.repo.records(VIDEO_CHECKS, query)
    windows = await deps.repo.records(GUARD_WINDOWS, dataclasses.replace(query, kind=None))
    return figures.video_bulletin(checks, windows)


async def community_checks(*, deps: Deps, scope: Scope) -> CommunityChecksReport:
    """The period's checks of rental housing and hotels near schools (counts: the events carry
    no person)."""
    return figures.community_checks(
        await deps.repo.records(COMMUNITY_CHECKS, _record_filter(deps, scope))
    )


async def gate_visits(*, deps: Deps, scope: Scope, now: datetime | None = None) -> GateVisitsReport:
    """Visitors who came in during the period, as they stood at its end (or now, if earlier)."""
    visits = await deps.repo.records(GATE_VISITS, _record_filter(deps, scope))
    return figures.gate_visits(visits, at=_end_or_now(scope, now))


def _end_or_now(scope: Scope, now: datetime | None) -> datetime:
    """When things are read as they stood: the period's end, or now if that is earlier."""
    moment = now or utcnow()
    return min(scope.until, moment) if scope.until is not None else moment


async def visibility(*, deps: Deps, scope: Scope) -> VisibilityReport:
    """Police visibility (见警率) in the rush-hour windows that started in the period."""
    return figures.visibility(await deps.repo.visibility(_record_filter(deps, scope)), deps.county)


async def campaigns_held(*, deps: Deps, scope: Scope) -> list[CampaignOpened]:
    """Campaigns running on a day of the period, for a school in scope (one for every school
    covers them all)."""
    school_ids = _check(deps, scope)
    since = scope.since.date() if scope.since else None
    until = None
    if scope.until is not None:
        midnight = scope.until.time() == time(0)
        until = scope.until.date() if midnight else scope.until.date() + timedelta(days=1)
    return [
        c
        for c in await deps.repo.records(CAMPAIGNS, RecordFilter())
        if c.runs_between(since, until)
        and (school_ids is None or not c.school_ids or school_ids & set(c.school_ids))
    ]


async def inspections(*, deps: Deps, scope: Scope) -> InspectionsReport:
    return figures.inspections(tallies.inspection_tally(await _activities(deps, scope)))


async def outreach(*, deps: Deps, scope: Scope) -> OutreachReport:
    return figures.outreach(tallies.outreach_tally(await _activities(deps, scope)))


async def _devices(deps: Deps, scope: Scope, wanted: bool) -> DevicesReport | None:
    return await devices(deps=deps, scope=scope) if wanted else None


async def _activities(deps: Deps, scope: Scope) -> tallies.Ledger:
    return await deps.repo.activity_ledger(_record_filter(deps, scope, kind=False))


def schools_in(*, deps: Deps, scope: Scope) -> list[School]:
    """The county's schools a scope covers."""
    school_ids = _check(deps, scope)
    return [s for s in deps.county.schools if school_ids is None or s.school_id in school_ids]


async def trends(
    *, deps: Deps, scope: Scope, now: datetime | None = None, latest: bool = False
) -> Trends:
    """The period's whole county days week by week, at most trends.MAX_WEEKS of them
    (`latest`: a longer period's last ones, else refused), for at most
    trends.MAX_SCHOOLS schools; without `since`, the trends.DEFAULT_WEEKS weeks before
    `until` (default now). One read of the alarm facts and one of the day documents."""
    whole = dataclasses.replace(scope, kind=None)
    school_ids = _check(deps, whole)
    in_scope = len(deps.county.schools) if school_ids is None else len(school_ids)
    if in_scope > weekly.MAX_SCHOOLS:
        limit = f"trends cover at most {weekly.MAX_SCHOOLS} schools, this scope {in_scope}"
        raise invalid_query("township", limit + ": name a township")
    until = scope.until or now or utcnow()
    since = scope.since or until - timedelta(weeks=weekly.DEFAULT_WEEKS)
    if since >= until:
        raise invalid_query("until", "since must be before until")
    zone = deps.county.zone
    parts = weekly.weeks(*weekly.whole_days(since, until, zone), zone)
    if latest:
        parts = parts[-weekly.MAX_WEEKS :]
    if len(parts) > weekly.MAX_WEEKS:
        limit = f"a trend covers at most {weekly.MAX_WEEKS} weeks, this period {len(parts)}"
        raise invalid_query("since", limit)
    span = dataclasses.replace(whole, since=parts[0].since, until=parts[-1].until)
    facts, days = await asyncio.gather(
        deps.repo.alarm_facts(_fact_filter(deps, span)),
        deps.repo.daily(_record_filter(deps, span)),
    )
    rows = [weekly.week_figures(week, zone, facts, days) for week in parts]
    return Trends(
        since=span.since,
        until=span.until,
        township=scope.township,
        school_id=scope.school_id,
        weeks=rows,
    )


async def overview(*, deps: Deps, scope: Scope, with_devices: bool = True) -> Overview:
    """Every report of a period, from one read of each read model, read at once: the
    summary, the dashboard and the printable report all show these same figures. Without
    `with_devices`, no devices report (the summary and the dashboard show none)."""
    whole = dataclasses.replace(scope, kind=None)
    school_ids = _check(deps, whole)
    (alarms, found, posts, covered), (activities, buttons, seen) = await asyncio.gather(
        asyncio.gather(
            deps.repo.alarm_tally(_fact_filter(deps, whole)),
            violations(deps=deps, scope=whole),
            guard_posts(deps=deps, scope=whole),
            coverage(deps=deps, scope=whole),
        ),
        asyncio.gather(
            _activities(deps, whole),
            _devices(deps, whole, with_devices),
            deps.repo.visibility(_record_filter(deps, whole)),
        ),
    )
    school_windows, visibility_rate = figures.visibility_totals(seen)
    reached = figures.outreach(tallies.outreach_tally(activities))
    checked = figures.inspections(tallies.inspection_tally(activities))
    times = figures.response_times_report(alarms)
    counts = {
        "campaigns": found.campaigns,
        "violations": found.total,
        "schools_reached": reached.schools_reached,
        "sessions": reached.sessions,
        "letters": reached.letters,
    }
    windows = sum(p.windows for p in posts)
    by_interval = {row.interval: row for row in times.intervals}
    summary = PeriodSummary(
        since=scope.since,
        until=scope.until,
        township=scope.township,
        school_id=scope.school_id,
        alarms=alarms.real,
        tests=times.tests_excluded,
        press_to_acknowledged_p50_s=by_interval["press_to_acknowledged"].p50_s,
        press_to_on_scene_p50_s=by_interval["press_to_on_scene"].p50_s,
        drills=reached.drills,
        inspections=checked.inspections,
        three_defences_rate=checked.three_defences_rate,
        guard_post_windows=windows,
        guard_post_staffing_rate=figures.rate(sum(p.staffed for p in posts), windows),
        school_windows=school_windows,
        visibility_rate=visibility_rate,
        schools_covered=sum(c.covered for c in covered),
        schools=len(deps.county.schools) if school_ids is None else len(school_ids),
        sentence=figures.sentence(counts),
        **counts,
    )
    return Overview(
        summary=summary,
        response_times=times,
        alarms=figures.alarms_by_outcome(alarms),
        violations=found,
        guard_posts=posts,
        coverage=covered,
        inspections=checked,
        outreach=reached,
        devices=buttons,
    )
