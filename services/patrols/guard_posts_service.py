"""Guard posts (护学岗): the roster, the school calendar, and each post's windows judged as
they open and close."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.patrols import guardposts
from services.patrols.deps import Deps
from services.patrols.guardposts import Calendar, RosterEntry
from services.patrols.models import DutyWindow, PostWindowRecord
from services.patrols.service import current_unit
from shared.carry import carry
from shared.errors import InvalidInput, field_error
from shared.events import GuardPostWindow, stable_id
from shared.geo import haversine_m


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


async def duty_today(*, deps: Deps, unit_id: str, now: datetime) -> list[DutyWindow]:
    """The unit's guard-post windows today in the county's time, earliest first, each as judged
    so far."""
    calendar = await deps.repo.calendar()
    day = now.astimezone(calendar.zone).date()
    windows = calendar.windows_on(day)
    duty: list[DutyWindow] = []
    for _, entry in await deps.repo.roster(unit_id=unit_id):
        point = deps.county.point(entry.post_id)
        school = deps.county.school(point.school_id) if point else None
        if point is None or school is None or not entry.covers(day):
            continue
        for name in entry.windows:
            if name not in windows:
                continue
            record = await deps.repo.post_window(f"{entry.post_id}:{day.isoformat()}:{name}")
            start, end = windows[name]
            duty.append(
                DutyWindow(
                    post_id=point.point_id,
                    school_id=school.school_id,
                    school_name=school.name,
                    lat=point.lat,
                    lon=point.lon,
                    radius_m=point.radius_m,
                    window=name,
                    window_start=start,
                    window_end=end,
                    state=record.state if record else "pending",
                    arrived_at=record.arrived_at if record else None,
                )
            )
    return sorted(duty, key=lambda d: (d.window_start, d.post_id))


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
    return carry(
        GuardPostWindow,
        record,
        event_id=stable_id("guard-post", record.key, "final" if final else "gap"),
        state=state,
        final=final,
    )


async def save_calendar(*, deps: Deps, calendar: Calendar) -> None:
    await deps.repo.save_calendar(calendar)
