"""Figures week by week: a period cut into the county's weeks (Monday to Sunday, the first
and last clipped to the period), each week's figures from the same tallies as the period's
reports, so a week's row is what that week's own report says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo

from services.reporting import figures, tallies
from services.reporting.models import AlarmFact, WeekFigures
from services.reporting.repository import DayCounts

MAX_WEEKS = 60  # a year of weeks and a little more: a longer period is refused
MAX_SCHOOLS = 500  # a county's schools: a province's trends are read per township
DEFAULT_WEEKS = 12  # a trend without a start: the twelve weeks before its end


def week_of(day: date) -> date:
    """The Monday that starts the day's week."""
    return day - timedelta(days=day.weekday())


class Week(NamedTuple):
    """[since, until): a county week, or the part of it inside the period."""

    since: datetime
    until: datetime


def weeks(since: datetime, until: datetime, zone: ZoneInfo) -> list[Week]:
    """[since, until) cut at the county's Mondays."""
    cuts = [since]
    monday = week_of(since.astimezone(zone).date()) + timedelta(days=7)
    while (start := datetime.combine(monday, time(0), tzinfo=zone)) < until:
        cuts.append(start)
        monday += timedelta(days=7)
    cuts.append(until)
    return [Week(a, b) for a, b in pairwise(cuts)]


def whole_days(since: datetime, until: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The period widened to the county midnights around it: trends count whole days."""
    first = since.astimezone(zone).date()
    last = until.astimezone(zone)
    end = last.date() + timedelta(days=0 if last.time() == time(0) else 1)
    return _midnight(first, zone), _midnight(end, zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def week_figures(
    week: Week,
    zone: ZoneInfo,
    facts: Sequence[AlarmFact],
    days: Mapping[date, DayCounts],
) -> WeekFigures:
    """One week's row, from the alarms raised in it and its days' counts."""
    first, end = week.since.astimezone(zone).date(), week.until.astimezone(zone).date()
    raised = [f for f in facts if f.raised_at and week.since <= f.raised_at < week.until]
    alarms = tallies.alarms(raised)
    times = {row.interval: row for row in figures.response_times(alarms)}
    ack, scene = times["press_to_acknowledged"], times["press_to_on_scene"]
    counted = [n for day, n in days.items() if first <= day < end]
    windows = sum(n.windows for n in counted)
    return WeekFigures(
        week=week_of(first),
        since=week.since,
        until=week.until,
        alarms=alarms.real,
        tests=alarms.tests,
        press_to_acknowledged_p50_s=ack.p50_s,
        press_to_acknowledged_p90_s=ack.p90_s,
        press_to_on_scene_p50_s=scene.p50_s,
        press_to_on_scene_p90_s=scene.p90_s,
        guard_post_windows=windows,
        guard_post_staffing_rate=figures.rate(sum(n.staffed for n in counted), windows),
        violations=sum(n.violations for n in counted),
        school_windows=(looked := sum(n.school_windows for n in counted)),
        visibility_rate=figures.rate(sum(n.seen for n in counted), looked),
    )
