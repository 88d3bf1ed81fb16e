"""Reporting logic: fold events into read models; answer report queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.reporting import figures
from services.reporting.models import ResponseTimes, SchoolAlarmCount
from services.reporting.repository import FactFilter, ReportingRepository
from shared.events import AlarmLifecycle


@dataclass(frozen=True)
class Deps:
    repo: ReportingRepository


async def record_alarm(*, deps: Deps, event: AlarmLifecycle) -> None:
    await deps.repo.record_alarm(event)


async def alarms_by_school(
    *, deps: Deps, since: datetime | None, until: datetime | None, township: str | None
) -> list[SchoolAlarmCount]:
    if since and until and since >= until:
        raise ValueError("since must be before until")
    return await deps.repo.alarms_by_school(since=since, until=until, township=township)


async def response_times(*, deps: Deps, query: FactFilter) -> ResponseTimes:
    """Press → acknowledged / unit assigned / on scene / resolved, percentiles over the real
    alarms raised in the period; tests and drills are counted apart, never in the figures."""
    if query.since and query.until and query.since >= query.until:
        raise ValueError("since must be before until")
    facts = await deps.repo.alarm_facts(query)
    return ResponseTimes(
        intervals=figures.response_times(facts), tests_excluded=sum(f.test for f in facts)
    )
