"""The dispatcher feed: the ranking of the nearest units, feed entries stored once and then
appended to the feed log, and the commands notifications sends the alarms service."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from services.notifications.deps import Deps
from services.notifications.models import (
    Feed,
    FeedEntry,
    Order,
    PostGap,
    TroubleEntry,
)
from shared.bus.background import RELAY_AFTER
from shared.carry import carry
from shared.events import (
    AlarmCommand,
    AlarmLifecycle,
    DeviceTrouble,
    GuardPostWindow,
    NearbyUnit,
    SchoolRef,
    stable_id,
    utcnow,
)


def nearest_units(
    *,
    deps: Deps,
    lat: float,
    lon: float,
    now: datetime,
    without: frozenset[str] | set[str] = frozenset(),
) -> tuple[list[NearbyUnit], float]:
    """The ranking and the radius that found it: fresh, dispatchable units (not `without`),
    the staffed guard post first, then closest first, at most top_k. Nobody within the radius:
    double it, at most `ranking.widenings` times."""
    radius = deps.ranking.radius_m
    for widening in range(deps.ranking.widenings + 1):
        radius = deps.ranking.radius_m * 2**widening
        found = deps.board.nearest(
            lat=lat,
            lon=lon,
            radius_m=radius,
            limit=deps.ranking.top_k,
            fresh_since=now - timedelta(seconds=deps.ranking.position_max_age_s),
            guard_post_radius_m=deps.ranking.guard_post_radius_m,
            without=without,
        )
        if found:
            return found, radius
    return [], radius


def feed_entry(*, deps: Deps, event: AlarmLifecycle, now: datetime) -> FeedEntry:
    """The event as the dispatchers see it; on `raised`, with the ranking of the nearest units.
    Positioned when appended to the feed log."""
    nearby: list[NearbyUnit] = []
    radius: float | None = None
    if event.state == "raised" and event.change == "transition":
        nearby, radius = nearest_units(
            deps=deps, lat=event.school.lat, lon=event.school.lon, now=now
        )
        if not nearby:
            deps.metrics.no_unit_in_range.inc()
        elif radius > deps.ranking.radius_m:
            deps.metrics.radius_widened.inc()
    plan = deps.plans.of(event.school.school_id)  # in memory: no read on the alarm path
    return carry(
        FeedEntry,
        event,
        event_id=event.event_id,  # the entry is the event's: one entry per event
        occurred_at=event.occurred_at,
        kinds=event.kinds or [event.kind],
        devices=event.devices or [event.device_id],
        nearest_units=nearby,
        radius_m=radius,
        widened=radius is not None and radius > deps.ranking.radius_m,
        plan=plan[1] if plan else None,
        plan_version=plan[0] if plan else None,
    )


async def add_to_feed(
    *, deps: Deps, event: AlarmLifecycle, entry: FeedEntry
) -> tuple[FeedEntry, bool]:
    """The event's feed entry, and whether it is new. A raise's entry holds a decision (the
    ranking): a redelivered raise finds the entry it made before, and appends that one to the
    log if it is not known to be there. Every other entry follows from its event alone: stored
    and appended at once. No read before the insert: one more round trip per alarm."""
    if entry.radius_m is None:
        return entry, await record(deps=deps, entry=entry, label=event.state)
    if await deps.repo.insert_feed(entry):
        await announce_raise(deps=deps, event=event, entry=entry)
        return entry, True
    return await held_raise(deps=deps, event=event), False


async def announce_raise(*, deps: Deps, event: AlarmLifecycle, entry: FeedEntry) -> None:
    """A raise's entry, stored just now, out to the dispatchers."""
    await append_to_log(deps, entry)
    deps.metrics.feed_entries.labels(event.state).inc()
    if event.received_at is not None:
        deps.metrics.raised_to_dispatcher.observe((utcnow() - event.received_at).total_seconds())


async def held_raise(*, deps: Deps, event: AlarmLifecycle) -> FeedEntry:
    """The entry a redelivered raise stored the first time, appended to the log unless it is
    known to be there."""
    held = await deps.repo.feed_entry(str(event.event_id))
    if held is None:
        raise RuntimeError(f"feed entry {event.event_id} neither inserted nor found")
    await append_if_unlogged(deps, held)
    return held


async def record(*, deps: Deps, entry: Feed, label: str) -> bool:
    """Store an entry that follows from its event alone and append it to the feed log, both at
    once; False if it was stored before (then its append again is streamed once: the log's
    readers know it by its id)."""
    inserted, _ = await asyncio.gather(deps.repo.insert_feed(entry), append_to_log(deps, entry))
    if inserted:
        deps.metrics.feed_entries.labels(label).inc()
    return inserted


async def append_to_log(deps: Deps, item: Feed | Order) -> None:
    """Append a stored entry or order to its log (every instance streams it from there); its
    position is recorded on the stored copy afterwards."""
    if isinstance(item, Order):
        topic, key, ident = deps.topics.notifications_orders, item.unit_id, str(item.order_id)
    else:
        topic, key, ident = deps.topics.notifications_feed, _feed_key(item), str(item.event_id)
    position = await deps.log.append(topic, key, item)
    await deps.afterwards.run(deps.repo.mark_logged(type(item).__name__, ident, position))


def _feed_key(item: Feed) -> str:
    if isinstance(item, FeedEntry):
        return str(item.alarm_id)
    return item.post_id if isinstance(item, PostGap) else item.device_id


async def append_if_unlogged(deps: Deps, item: Feed | Order | None) -> None:
    """For a redelivery or a retry that finds the item stored: append it unless it is known to
    be in the log (a record appended twice is streamed once: streams.Tail)."""
    if item is not None and item.seq is None:
        await append_to_log(deps, item)


async def relay_unlogged(*, deps: Deps, now: datetime) -> int:
    """Append entries and orders stored RELAY_AFTER ago but not known to be in their logs (the
    process stopped between the two); returns how many."""
    items = await deps.repo.unlogged(older_than=now - RELAY_AFTER, limit=200)
    for item in items:
        await append_to_log(deps, item)
    return len(items)


async def send_command(
    deps: Deps, alarm_id: uuid.UUID, action: str, *, key: str = "", **fields: str | None
) -> None:
    """A system command to the alarms service (the single writer); its id derives from the
    alarm, the action and `key`, so sending it again is applied once."""
    command = AlarmCommand.model_validate(
        {
            "command_id": stable_id("notifications-command", str(alarm_id), action, key),
            "alarm_id": alarm_id,
            "action": action,
            "actor": "notifications",
            "role": "system",
            **fields,
        }
    )
    await deps.publisher.publish(deps.topics.alarms_commands, str(alarm_id), command)
    deps.metrics.commands.labels(action).inc()


async def give_up(*, deps: Deps, alarm_id: uuid.UUID) -> None:
    """Nobody is left to ask: the alarm escalates (the alarms service refuses it if a unit is
    assigned meanwhile)."""
    await send_command(deps, alarm_id, "escalate", reason="no_unit_in_range")


async def follow_up(
    *, deps: Deps, latest: FeedEntry, event_id: uuid.UUID, now: datetime, **changes: Any
) -> None:
    """A feed entry about an alarm that is not one of its transitions (a pass-over, a refused
    command): the alarm as its latest entry shows it, with `changes`; stored and appended once
    (its id derives from what it reports)."""
    entry = latest.model_copy(
        update={
            "event_id": event_id,
            "occurred_at": now,
            "seq": None,
            "nearest_units": [],
            "passed_over_unit": None,
            "ordered_unit": None,
        }
        | changes
    )
    await record(deps=deps, entry=entry, label=str(changes.get("change", "other")))


async def record_gap(*, deps: Deps, window: GuardPostWindow) -> PostGap | None:
    """A guard post found empty while its window is open becomes a feed entry of its own, once
    per gap event (its id). Other window events (staffed, late, the window's outcome) are the
    reports' business. None: nothing new for the feed."""
    if window.state != "empty" or window.final:
        return None
    school = deps.county.school(window.school_id) if deps.county else None
    if school is None:
        raise LookupError(f"guard post {window.post_id} at unknown school {window.school_id}")
    gap = carry(
        PostGap,
        window,
        event_id=window.event_id,  # the entry is the window event's
        occurred_at=window.occurred_at,
        school=SchoolRef.model_validate(school.model_dump()),
    )
    return gap if await record(deps=deps, entry=gap, label="guard_post_gap") else None


async def record_trouble(*, deps: Deps, trouble: DeviceTrouble) -> TroubleEntry | None:
    """A button's trouble, repeat or restoral becomes a feed entry of its own, once per event
    (its id). None: stored before."""
    entry = carry(TroubleEntry, trouble, event_id=trouble.event_id, occurred_at=trouble.occurred_at)
    return entry if await record(deps=deps, entry=entry, label="device_trouble") else None
