"""Police visibility (见警率): once each school-day rush-hour window has ended (and the
positions of its last minutes had time to arrive), every school's window is worked out from
the units' position history, stored once and published on patrols.visibility; the relay
finishes a crash in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.patrols.deps import Deps
from services.patrols.visibility import patrolled
from services.patrols.visits import Box
from shared.events import SchoolWindowPatrolled

EVERYWHERE = Box(-90.0, 90.0, -180.0, 180.0)
RELAY_AFTER = timedelta(seconds=5)
# Windows that ended while the service was stopped are worked out when it is back, up to a day
# back (older ones are left out rather than judged on history that may have gaps).
LOOK_BACK = timedelta(days=1)


def key(event: SchoolWindowPatrolled) -> str:
    """A school's window by its start: a calendar edited during the day makes a new window."""
    return f"{event.school.school_id}|{event.window_start.astimezone(UTC).isoformat()}"


async def watch(*, deps: Deps, now: datetime) -> int:
    """Every ended, settled window of the last days not worked out yet: worked out now."""
    calendar = await deps.repo.calendar()
    today = now.astimezone(calendar.zone).date()
    units = {u.unit_id: u for u in deps.county.units}
    done = 0
    for day in (today - timedelta(days=1), today):
        for name, (start, end) in sorted(calendar.windows_on(day).items(), key=lambda w: w[1]):
            if end + deps.visibility.settle > now or end < now - LOOK_BACK:
                continue
            held = await deps.repo.visibility_keys(window_start=start)
            todo = [s for s in deps.county.schools if s.school_id not in held]
            if not todo:
                continue
            sightings = await deps.repo.fixes_in_box(EVERYWHERE, list(units), (start, end))
            for school in todo:
                event = patrolled(
                    school=school,
                    day=day,
                    window=name,
                    span=(start, end),
                    sightings=sightings,
                    units=units,
                    radius_m=deps.visibility.radius_m,
                )
                if await deps.repo.insert_visibility(key(event), event):
                    await publish(deps=deps, event=event)
                    done += 1
    return done


async def publish(*, deps: Deps, event: SchoolWindowPatrolled) -> None:
    await deps.publisher.publish(deps.topics.patrols_visibility, event.school.school_id, event)
    await deps.repo.visibility_published(key(event))
    deps.metrics.school_windows.labels("seen" if event.seen else "unseen").inc()


async def relay(*, deps: Deps, now: datetime) -> int:
    """Windows stored but not seen published (a crash in between): published now."""
    pending = await deps.repo.unpublished_visibility(before=now - RELAY_AFTER)
    for event in pending:
        await publish(deps=deps, event=event)
    return len(pending)
