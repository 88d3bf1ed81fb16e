"""Patrol logic: accepting position batches, recording fixes idempotently."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.patrols import guardposts
from services.patrols import status as status_rules
from services.patrols import visits as visits_model
from services.patrols.guardposts import Calendar, RosterEntry
from services.patrols.metrics import PatrolMetrics
from services.patrols.models import (
    BatchAccepted,
    CheckinRequest,
    PositionBatch,
    PostWindowRecord,
    StoredFix,
    UnitState,
)
from services.patrols.repository import PatrolRepository, ViolationFilter
from services.patrols.status import StatusRefused
from services.patrols.tracker import Step, UnitTrack, VisitTracker
from services.patrols.violations import Campaign, CampaignRequest, ViolationRequest
from shared.bus.publishers import Publisher
from shared.errors import InvalidInput, field_error, invalid_query
from shared.events import (
    CampaignOpened,
    CampaignRef,
    CheckinRecorded,
    GuardPostWindow,
    PositionReported,
    UnitStatus,
    UnitStatusChanged,
    ViolationRecorded,
    stable_id,
)
from shared.faults import is_unavailable
from shared.geo import haversine_m
from shared.latest import PendingPositions
from shared.provisioning import County
from shared.topics import Topics


@dataclass(frozen=True)
class Deps:
    repo: PatrolRepository
    publisher: Publisher
    topics: Topics
    county: County
    metrics: PatrolMetrics
    max_future_skew_s: float
    post_grace: timedelta = timedelta(minutes=5)
    post_fresh: timedelta = timedelta(minutes=2)
    history_retention: timedelta = timedelta(days=30)
    publish_timeout_s: float = 2.0
    visits: VisitTracker = field(default_factory=lambda: VisitTracker([]))
    latest: PendingPositions = field(default_factory=PendingPositions)


MAX_HISTORY_SPAN = timedelta(hours=24)


def check_batch(batch: PositionBatch, *, now: datetime, max_future_skew_s: float) -> None:
    """Refuse the whole batch if any fix is from the future (clock or forgery; never truth)."""
    limit = now + timedelta(seconds=max_future_skew_s)
    errors: list[dict[str, object]] = [
        {
            "loc": ["body", "fixes", index, "recorded_at"],
            "msg": f"more than {max_future_skew_s:g} s in the future",
            "type": "future_fix",
        }
        for index, fix in enumerate(batch.fixes)
        if fix.recorded_at > limit
    ]
    if errors:
        raise InvalidInput(errors)


async def accept_positions(
    *, deps: Deps, unit_id: str, batch: PositionBatch, now: datetime
) -> BatchAccepted:
    """Publish every fix keyed by unit; the event id derives from (unit, time), so a batch
    posted twice is stored once."""
    deps.metrics.fixes_received.inc(len(batch.fixes))
    deps.metrics.batch_size.observe(len(batch.fixes))
    try:
        check_batch(batch, now=now, max_future_skew_s=deps.max_future_skew_s)
    except InvalidInput:
        deps.metrics.fixes_refused.labels("future").inc(len(batch.fixes))
        raise
    events = [
        (
            unit_id,
            PositionReported(
                event_id=stable_id("fix", unit_id, fix.recorded_at.isoformat()),
                occurred_at=fix.recorded_at,
                unit_id=unit_id,
                lat=fix.lat,
                lon=fix.lon,
                recorded_at=fix.recorded_at,
                speed_kmh=fix.speed_kmh,
                heading_deg=fix.heading_deg,
                accuracy_m=fix.accuracy_m,
            ),
        )
        for fix in batch.fixes
    ]
    try:
        async with asyncio.timeout(deps.publish_timeout_s):
            await deps.publisher.publish_many(deps.topics.patrols_positions, events)
    except Exception as exc:
        if is_unavailable(exc):
            deps.metrics.fixes_refused.labels("broker_unavailable").inc(len(events))
        raise  # 503: the terminal keeps the batch and posts it again (stored once)
    deps.metrics.fixes_accepted.inc(len(events))
    return BatchAccepted(accepted=len(events))


async def record_positions(*, deps: Deps, fixes: list[PositionReported]) -> None:
    """Store a batch of fixes (history once each, the unit moved to its newest fix). A fix
    older than the unit's latest is out of order: kept in history, never its position."""
    unknown = sorted({fix.unit_id for fix in fixes if deps.county.unit(fix.unit_id) is None})
    if unknown:
        raise ValueError(f"fixes for unknown units {unknown}")
    deps.metrics.fixes_stored.inc(await deps.repo.record_positions(fixes))
    deps.metrics.fixes_out_of_order.inc(deps.latest.add(fixes))
    await track_visits(deps=deps, fixes=fixes)


async def track_visits(*, deps: Deps, fixes: list[PositionReported]) -> None:
    """Fold fixes into the live visits; visits that ended are published on patrols.visits
    and the tracks that began or ended a visit are stored, both before the batch's offsets
    are committed (a redelivery finds them, and publishes the same visit ids again)."""
    tracker = deps.visits
    async with tracker.lock:
        unknown = sorted({f.unit_id for f in fixes if not tracker.knows(f.unit_id)})
        if unknown:  # first sight since start-up or a rebalance: from the stored tracks
            stored = await deps.repo.load_tracks(unknown)
            for unit_id in unknown:
                tracker.load(unit_id, stored.get(unit_id, UnitTrack()))
        await _settle(deps, tracker, tracker.step(fixes))


async def sweep_visits(*, deps: Deps, now: datetime) -> int:
    """End the visits of units silent for 5 min; store the other tracks' newest times."""
    tracker = deps.visits
    async with tracker.lock:
        step = tracker.sweep(now)
        await _settle(deps, tracker, step)
        await deps.repo.save_tracks(tracker.take_dirty())
    return len(step.ended)


async def _settle(deps: Deps, tracker: VisitTracker, step: Step) -> None:
    if step.ended:
        await deps.publisher.publish_many(
            deps.topics.patrols_visits, [(v.unit_id, v) for v in step.ended]
        )
    if step.changed:
        await deps.repo.save_tracks({u: step.tracks[u] for u in step.changed})
    tracker.apply(step)
    for visit in step.ended:
        deps.metrics.point_visits.labels(visit.closed_by).inc()


async def prune_history(*, deps: Deps, now: datetime) -> int:
    """Apply the retention policy: fixes older than `history_retention` are deleted."""
    pruned = await deps.repo.prune_history(
        unit_ids=[unit.unit_id for unit in deps.county.units], before=now - deps.history_retention
    )
    deps.metrics.fixes_pruned.inc(pruned)
    return pruned


async def get(*, deps: Deps, unit_id: str) -> UnitState | None:
    return await current_unit(deps=deps, unit_id=unit_id)


async def current_unit(*, deps: Deps, unit_id: str) -> UnitState | None:
    """The stored unit, at its newest fix even if that one is not written yet."""
    unit = await deps.repo.get_unit(unit_id)
    fix = deps.latest.newest(unit_id)
    if unit is None or fix is None or (unit.recorded_at and unit.recorded_at >= fix.recorded_at):
        return unit
    return unit.model_copy(update={"lat": fix.lat, "lon": fix.lon, "recorded_at": fix.recorded_at})


async def flush_latest(*, deps: Deps) -> int:
    """Write each unit's newest fix noted since the last round (shared.latest)."""
    return await deps.latest.flush(deps.repo.move_units)


async def recover_latest(*, deps: Deps) -> None:
    """At start-up: a fix stored in history but not yet written to its unit when the process
    died moves the unit now (the history is written before a batch is committed)."""
    units = [unit.unit_id for unit in deps.county.units]
    await deps.repo.move_units(await deps.repo.newest_in_history(units))


async def history(*, deps: Deps, unit_id: str, since: datetime, until: datetime) -> list[StoredFix]:
    if since >= until:
        raise invalid_query("until", "since must be before until")
    if until - since > MAX_HISTORY_SPAN:
        raise invalid_query("until", f"at most {MAX_HISTORY_SPAN} at a time")
    return await deps.repo.history(unit_id, since=since, until=until)


async def change_status(
    *, deps: Deps, unit_id: str, status: UnitStatus, actor: str, reason: str | None, now: datetime
) -> UnitState:
    """Apply the status rules and store the change with its event (compare-and-set), then
    publish it on patrols.unit-status. Raises StatusRefused with the reason."""
    for _ in range(5):
        unit = await deps.repo.get_unit(unit_id)
        if unit is None:
            raise LookupError(unit_id)
        status_rules.check(unit.status, status)
        version = unit.status_version + 1
        event = UnitStatusChanged(
            event_id=stable_id("unit-status", unit_id, str(version)),
            occurred_at=now,
            unit_id=unit_id,
            status=status,
            previous=unit.status,
            actor=actor,
            reason=reason,
            version=version,
        )
        if await deps.repo.set_status(unit, event):
            deps.metrics.status_changes.labels(status).inc()
            return await relay_status(deps=deps, unit_id=unit_id)
    raise StatusRefused("the unit's status changed meanwhile; try again")


async def relay_status(*, deps: Deps, unit_id: str) -> UnitState:
    """Publish the unit's pending status events in order, removing each once on the broker."""
    unit = await deps.repo.get_unit(unit_id)
    assert unit is not None
    for event in unit.outbox:
        await deps.publisher.publish(deps.topics.patrols_unit_status, unit_id, event)
        await deps.repo.pull_status_event(unit_id, event.event_id)
    return unit


async def relay_pending(*, deps: Deps) -> None:
    """Finish publications a crash interrupted (the background relay)."""
    for unit in await deps.repo.units_with_outbox():
        await relay_status(deps=deps, unit_id=unit.unit_id)


# --- campaigns and violations ----------------------------------------------------------------


class CampaignExists(Exception):
    pass


async def create_campaign(
    *, deps: Deps, request: CampaignRequest, actor: str, now: datetime
) -> Campaign:
    unknown = [s for s in request.school_ids if deps.county.school(s) is None]
    if unknown:
        raise InvalidInput([field_error("school_ids", f"unknown schools {unknown}")])
    stamp = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as stored (BSON: ms)
    campaign = Campaign(**request.model_dump(), created_by=actor, created_at=stamp)
    if not await deps.repo.add_campaign(campaign):
        stored = await deps.repo.campaign(request.campaign_id)
        if stored is None or not _same_campaign(stored, request):
            raise CampaignExists(request.campaign_id)
        campaign = stored  # the same request again (a retry): published again, same event id
    await publish_campaign(deps=deps, campaign=campaign)
    return campaign


def _same_campaign(stored: Campaign, request: CampaignRequest) -> bool:
    asked = stored.model_dump(include=set(CampaignRequest.model_fields))
    return CampaignRequest.model_validate(asked) == request


async def publish_campaign(*, deps: Deps, campaign: Campaign) -> None:
    event = CampaignOpened(
        event_id=stable_id("campaign", campaign.campaign_id),
        occurred_at=campaign.created_at,
        campaign_id=campaign.campaign_id,
        name=campaign.name,
        school_ids=campaign.school_ids,
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        created_by=campaign.created_by,
    )
    await deps.publisher.publish(deps.topics.patrols_campaigns, campaign.campaign_id, event)


async def republish_campaigns(*, deps: Deps) -> None:
    """Every campaign again: one stored just before a crash was maybe never published."""
    for campaign in await deps.repo.campaigns():
        await publish_campaign(deps=deps, campaign=campaign)


async def record_violation(
    *, deps: Deps, unit_id: str, request: ViolationRequest, now: datetime
) -> ViolationRecorded:
    """Check the violation against the county and the campaign, then publish it (202 follows).
    Raises InvalidInput naming each field that cannot be true."""
    errors: list[dict[str, object]] = []

    def refuse(field: str, message: str) -> None:
        errors.append(field_error(field, message))

    if request.observed_at > now + timedelta(seconds=deps.max_future_skew_s):
        refuse("observed_at", "in the future")
    if request.school_id is not None and deps.county.school(request.school_id) is None:
        refuse("school_id", f"unknown school {request.school_id}")
    campaign = await _campaign_for(deps, request, refuse)
    if errors:
        deps.metrics.violations_refused.inc()
        raise InvalidInput(errors)
    event = ViolationRecorded(
        event_id=stable_id("violation", str(request.violation_id)),
        occurred_at=request.observed_at,
        violation_id=request.violation_id,
        unit_id=unit_id,
        officer=request.officer,
        kind=request.kind,
        plate=request.plate,
        place=request.place,
        school_id=request.school_id,
        observed_at=request.observed_at,
        evidence=request.evidence,
        campaign=CampaignRef(campaign_id=campaign.campaign_id, name=campaign.name)
        if campaign
        else None,
        notes=request.notes,
    )
    await deps.publisher.publish(deps.topics.patrols_violations, unit_id, event)
    deps.metrics.violations.labels(request.kind).inc()
    return event


async def _campaign_for(deps: Deps, request: ViolationRequest, refuse: Any) -> Campaign | None:
    if request.campaign_id is None:
        return None
    campaign = await deps.repo.campaign(request.campaign_id)
    if campaign is None:
        refuse("campaign_id", f"unknown campaign {request.campaign_id}")
        return None
    if not campaign.active_on(request.observed_at.date()):
        refuse("campaign_id", f"campaign runs {campaign.starts_on} to {campaign.ends_on}")
    if campaign.school_ids and request.school_id not in campaign.school_ids:
        refuse("school_id", "not a school of this campaign")
    return campaign


async def store_violation(*, deps: Deps, event: ViolationRecorded) -> None:
    await deps.repo.store_violation(event)


async def violations(*, deps: Deps, query: ViolationFilter) -> list[ViolationRecorded]:
    return await deps.repo.violations(query)


# --- check-ins ---------------------------------------------------------------------------------


async def check_in(
    *, deps: Deps, unit_id: str, request: CheckinRequest, now: datetime
) -> CheckinRecorded:
    """Accept a check-in inside the point's geofence; outside it, refuse with the distance
    unless the unit insists (then it is recorded, flagged with the distance)."""
    point = deps.county.point(request.point_id)
    if point is None:
        raise InvalidInput([field_error("point_id", f"unknown patrol point {request.point_id}")])
    if request.at > now + timedelta(seconds=deps.max_future_skew_s):
        raise InvalidInput([field_error("at", "in the future")])
    distance = haversine_m(point.lat, point.lon, request.lat, request.lon)
    outside = distance > point.radius_m
    if outside and not request.insist:
        deps.metrics.checkins.labels("refused_geofence").inc()
        raise InvalidInput(
            [
                field_error(
                    "lat",
                    f"{distance - point.radius_m:.0f} m outside the {point.radius_m:.0f} m "
                    f"geofence of {point.point_id}; resend with insist=true to record it flagged",
                )
            ]
        )
    event = CheckinRecorded(
        event_id=stable_id("checkin", str(request.checkin_id)),
        occurred_at=request.at,
        checkin_id=request.checkin_id,
        unit_id=unit_id,
        point_id=point.point_id,
        school_id=point.school_id,
        point_kind=point.kind,
        lat=request.lat,
        lon=request.lon,
        at=request.at,
        distance_m=round(distance, 1),
        flagged=outside,
        note=request.note,
    )
    await deps.publisher.publish(deps.topics.patrols_checkins, unit_id, event)
    deps.metrics.checkins.labels("flagged" if outside else "accepted").inc()
    return event


async def store_checkin(*, deps: Deps, event: CheckinRecorded) -> None:
    await deps.repo.store_checkin(event)


# --- guard posts (护学岗) ----------------------------------------------------------------------


async def add_roster_entry(*, deps: Deps, entry: RosterEntry) -> str:
    errors = []
    if deps.county.unit(entry.unit_id) is None:
        errors.append(field_error("unit_id", f"unknown unit {entry.unit_id}"))
    point = deps.county.point(entry.post_id)
    if point is None or point.kind != "stop":
        errors.append(field_error("post_id", "not a school's stop point (the gate post)"))
    if errors:
        raise InvalidInput(errors)
    return await deps.repo.add_roster_entry(entry)


async def watch_posts(*, deps: Deps, now: datetime) -> list[GuardPostWindow]:
    """Judge every rostered post whose window is open (or just ended): publish a coverage gap
    while the window is open (once), and the outcome when it ends (once)."""
    calendar = await deps.repo.calendar()
    day = now.astimezone(calendar.zone).date()
    windows = calendar.windows_on(day)
    published: list[GuardPostWindow] = []
    for _, entry in await deps.repo.roster():
        if not entry.covers(day):
            continue
        for name in entry.windows:
            if name in windows and windows[name][0] <= now:
                event = await _judge_window(deps, entry, day, name, windows[name], now)
                if event is not None:
                    published.append(event)
    return published


async def _judge_window(
    deps: Deps,
    entry: RosterEntry,
    day: Any,
    name: guardposts.WindowName,
    window: tuple[datetime, datetime],
    now: datetime,
) -> GuardPostWindow | None:
    start, end = window
    key = f"{entry.post_id}:{day.isoformat()}:{name}"
    record = await deps.repo.post_window(key)
    if record is not None and record.closed:
        return None
    point = deps.county.point(entry.post_id)
    assert point is not None  # checked when rostered
    record = record or PostWindowRecord(
        key=key,
        post_id=point.point_id,
        school_id=point.school_id,
        unit_id=entry.unit_id,
        day=day,
        window=name,
        window_start=start,
        window_end=end,
    )
    unit = await current_unit(deps=deps, unit_id=entry.unit_id)
    if unit is not None and unit.lat is not None and unit.lon is not None and unit.recorded_at:
        distance = haversine_m(point.lat, point.lon, unit.lat, unit.lon)
        record.last_seen_m = round(distance, 1)
        fresh = (
            now - unit.recorded_at <= deps.post_fresh
            and unit.recorded_at >= start - deps.post_fresh
        )
        if record.arrived_at is None and fresh and distance <= point.radius_m:
            record.arrived_at = max(start, min(unit.recorded_at, now))
    record.state = guardposts.judge(
        start=start, end=end, now=now, arrived_at=record.arrived_at, grace=deps.post_grace
    )
    event: GuardPostWindow | None = None
    if now >= end:
        event = _window_event(record, final=True)
        record.closed = True
    elif record.state == "empty" and not record.gap_published:
        event = _window_event(record, final=False)
        record.gap_published = True
    if event is not None:  # publish first: a crash before saving publishes it again, same id
        await deps.publisher.publish(deps.topics.patrols_guard_posts, record.post_id, event)
        deps.metrics.post_windows.labels(name, event.state, str(event.final).lower()).inc()
    await deps.repo.save_post_window(record)
    return event


def _window_event(record: PostWindowRecord, *, final: bool) -> GuardPostWindow:
    state = "empty" if record.state == "pending" else record.state
    return GuardPostWindow(
        event_id=stable_id("guard-post", record.key, "final" if final else "gap"),
        post_id=record.post_id,
        school_id=record.school_id,
        unit_id=record.unit_id,
        day=record.day,
        window=record.window,
        window_start=record.window_start,
        window_end=record.window_end,
        state=state,
        final=final,
        arrived_at=record.arrived_at,
        last_seen_m=record.last_seen_m,
    )


async def save_calendar(*, deps: Deps, calendar: Calendar) -> None:
    await deps.repo.save_calendar(calendar)


# --- visits and dwell --------------------------------------------------------------------------

MAX_VISIT_SPAN = timedelta(hours=12)


async def visits(
    *, deps: Deps, point_id: str, since: datetime, until: datetime
) -> list[visits_model.Visit]:
    """Visits to a patrol point in [since, until), from positions and check-ins."""
    point = deps.county.point(point_id)
    if point is None:
        raise LookupError(point_id)
    if since >= until or until - since > MAX_VISIT_SPAN:
        raise invalid_query("until", f"since must be before until, at most {MAX_VISIT_SPAN} apart")
    fixes = await deps.repo.fixes_in_box(
        visits_model.bounding_box(point),
        unit_ids=[unit.unit_id for unit in deps.county.units],
        since=since,
        until=until,
    )
    checkins = await deps.repo.checkins(point_id, since=since, until=until)
    return visits_model.find_visits(point, fixes, checkins)
