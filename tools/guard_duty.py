"""The demo's guard-post duty: a school calendar whose rush-hour windows fall around the time
the demo starts (one just ended, one open, one to come), and each guard-post unit rostered at
the gate of the school nearest its home, so the console's gap panel and the guard-post
reports show something whenever the demo runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from shared.geo import haversine_m
from shared.provisioning import County

WINDOW_NAMES = ("morning", "noon", "afternoon")
# Minutes from now: the first window ended, the second open, the third to come.
OFFSETS_MIN = ((-35, -5), (-2, 20), (21, 40))


def calendar_around(now: datetime, zone: ZoneInfo) -> dict[str, Any] | None:
    """A calendar whose windows are around `now` (every weekday a school day); None when
    they would cross the county's midnight."""
    local = now.astimezone(zone)
    starts = [local + timedelta(minutes=a) for a, _ in OFFSETS_MIN]
    ends = [local + timedelta(minutes=b) for _, b in OFFSETS_MIN]
    if starts[0].date() != local.date() or ends[-1].date() != local.date():
        return None

    def clock(at: datetime) -> str:
        return at.time().replace(second=0, microsecond=0).isoformat()

    return {
        "timezone": zone.key,
        "school_weekdays": list(range(7)),
        "windows": {
            name: {"start": clock(start), "end": clock(end)}
            for name, start, end in zip(WINDOW_NAMES, starts, ends, strict=True)
        },
    }


def roster(county: County, today: date) -> list[dict[str, Any]]:
    """Each guard-post unit at the gate (stop point) of the school nearest its home, today."""
    gates = [p for p in county.patrol_points if p.kind == "stop"]
    entries = []
    for unit in county.units:
        if unit.kind != "guard_post" or not gates:
            continue
        gate = min(gates, key=lambda p: haversine_m(p.lat, p.lon, unit.home_lat, unit.home_lon))
        entries.append(
            {
                "unit_id": unit.unit_id,
                "post_id": gate.point_id,
                "windows": list(WINDOW_NAMES),
                "valid_from": today.isoformat(),
                "valid_to": today.isoformat(),
            }
        )
    return entries


async def set_up(
    client: httpx.AsyncClient, patrols: str, headers: dict[str, str], county: County, now: datetime
) -> str:
    """Put the calendar and the roster on patrols; what was done, in a line."""
    calendar = calendar_around(now, county.zone)
    if calendar is None:
        return "guard posts: too near midnight for windows around now; the default calendar stays"
    answer = await client.put(f"{patrols}/v1/calendar", json=calendar, headers=headers)
    answer.raise_for_status()
    entries = roster(county, now.astimezone(county.zone).date())
    for entry in entries:
        posted = await client.post(f"{patrols}/v1/roster", json=entry, headers=headers)
        posted.raise_for_status()
    windows = ", ".join(f"{n} {w['start']}-{w['end']}" for n, w in calendar["windows"].items())
    return f"guard posts: {len(entries)} units rostered today, windows {windows}"
