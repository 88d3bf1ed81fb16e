"""Notification logic: the unit-position read model and the dispatcher feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifications.hub import Hub
from services.notifications.metrics import NotificationMetrics
from services.notifications.models import FeedEntry
from services.notifications.repository import NotificationRepository
from shared.events import AlarmLifecycle, NearbyUnit, PositionReported, UnitStatusChanged, utcnow


@dataclass(frozen=True)
class Deps:
    repo: NotificationRepository
    hub: Hub
    metrics: NotificationMetrics
    radius_m: float
    top_k: int
    position_max_age_s: float


async def record_positions(*, deps: Deps, fixes: list[PositionReported]) -> None:
    await deps.repo.upsert_positions(fixes)


async def record_status(*, deps: Deps, change: UnitStatusChanged) -> None:
    await deps.repo.set_status(change)


async def nearest_units(*, deps: Deps, lat: float, lon: float, now: datetime) -> list[NearbyUnit]:
    """Fresh, dispatchable (available or on post) units within the radius, closest first,
    at most top_k."""
    return await deps.repo.nearest_units(
        lat=lat,
        lon=lon,
        radius_m=deps.radius_m,
        limit=deps.top_k,
        fresh_since=now - timedelta(seconds=deps.position_max_age_s),
    )


async def on_lifecycle(*, deps: Deps, event: AlarmLifecycle, now: datetime) -> FeedEntry | None:
    """Add the transition to the dispatcher feed once and push it live; None if seen before."""
    if await deps.repo.has_feed_entry(str(event.event_id)):
        return None
    nearby: list[NearbyUnit] = []
    searched = event.state == "raised" and event.change == "transition"
    if searched:
        nearby = await nearest_units(deps=deps, lat=event.school.lat, lon=event.school.lon, now=now)
        if not nearby:
            deps.metrics.no_unit_in_range.inc()
    entry = FeedEntry(
        seq=await deps.repo.next_seq(),
        event_id=event.event_id,
        alarm_id=event.alarm_id,
        state=event.state,
        school=event.school,
        kind=event.kind,
        silent=event.silent,
        test=event.test,
        location=event.location,
        pressed_at=event.pressed_at,
        occurred_at=event.occurred_at,
        nearest_units=nearby,
        radius_m=deps.radius_m if searched else None,
        change=event.change,
        press_count=event.press_count,
        severity=event.severity,
        assigned_unit=event.assigned_unit,
    )
    if not await deps.repo.insert_feed(entry):
        return None
    deps.hub.publish(entry)
    deps.metrics.feed_entries.labels(event.state).inc()
    if searched and event.received_at is not None:
        deps.metrics.raised_to_dispatcher.observe((utcnow() - event.received_at).total_seconds())
    return entry
