"""Reporting logic: fold events into read models; answer report queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.reporting.models import SchoolAlarmCount
from services.reporting.repository import ReportingRepository
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
