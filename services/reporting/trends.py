"""Figures week by week: a period cut into the county's weeks (Monday to Sunday, the first
and last clipped to the period), each week's figures from the same tallies as the period's
reports, so a week's row is what that week's own report says."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from services.reporting import figures
from services.reporting.models import GuardPostRow, WeekFigures
from services.reporting.tallies import AlarmTally
from shared.period import Period

MAX_WEEKS = 60  # a year of weeks and a little more: a longer period is refused
DEFAULT_WEEKS = 12  # a trend without a start: the twelve weeks before its end


def week_of(day: date) -> date:
    """The Monday that starts the day's week."""
    return day - timedelta(days=day.weekday())


def weeks(since: datetime, until: datetime, zone: ZoneInfo) -> list[Period]:
    """[since, until) cut at the county's Mondays."""
    cuts = [since]
    monday = week_of(since.astimezone(zone).date()) + timedelta(days=7)
    while (start := datetime.combine(monday, time(0), tzinfo=zone)) < until:
        cuts.append(start)
        monday += timedelta(days=7)
    cuts.append(until)
    return [Period(since=a, until=b) for a, b in pairwise(cuts)]


def week_figures(
    week: Period,
    zone: ZoneInfo,
    alarms: AlarmTally,
    posts: Sequence[GuardPostRow],
    violations: int,
) -> WeekFigures:
    """One week's row, from its tallies."""
    assert week.since is not None and week.until is not None
    times = {row.interval: row for row in figures.response_times(alarms)}
    ack, scene = times["press_to_acknowledged"], times["press_to_on_scene"]
    windows = sum(p.windows for p in posts)
    return WeekFigures(
        week=week_of(week.since.astimezone(zone).date()),
        since=week.since,
        until=week.until,
        alarms=alarms.real,
        tests=alarms.tests,
        press_to_acknowledged_p50_s=ack.p50_s,
        press_to_acknowledged_p90_s=ack.p90_s,
        press_to_on_scene_p50_s=scene.p50_s,
        press_to_on_scene_p90_s=scene.p90_s,
        guard_post_windows=windows,
        guard_post_staffing_rate=figures.rate(sum(p.staffed for p in posts), windows),
        violations=violations,
    )
