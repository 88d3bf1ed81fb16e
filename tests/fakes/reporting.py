"""The in-memory fake of services.reporting.repository; held to the real one by
tests/contracts/test_reporting_repository.py."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.reporting import tallies
from services.reporting.devices import TroubleSpan, spans_of
from services.reporting.models import AlarmFact, SchoolAlarmCount
from services.reporting.repository import (
    ACTIVITIES,
    CHECKINS,
    CLOSED_STATES,
    DEFAULT_ZONE,
    GUARD_WINDOWS,
    TROUBLES,
    VIOLATIONS,
    VISIBILITY,
    VISITS,
    DayCounts,
    FactFilter,
    R,
    RecordFilter,
    RecordKind,
    coverage_facet,
    day_span,
    guard_facets,
)
from services.reporting.rollups import Stale
from services.reporting.tallies import (
    AlarmTally,
    ViolationKey,
    violation_key,
)
from shared.events import (
    AlarmLifecycle,
)


class InMemoryReportingRepository:
    """Reports straight from the stored records, through the same tallies MongoDB keeps
    rolled up: the contract tests hold the roll-ups to this."""

    def __init__(self, *, zone: ZoneInfo = DEFAULT_ZONE) -> None:
        self.zone = zone
        self.raised: dict[str, AlarmLifecycle] = {}
        self.states: dict[str, dict[str, datetime]] = defaultdict(dict)
        self.closed: dict[str, AlarmLifecycle] = {}
        self.stored: dict[str, dict[str, Any]] = defaultdict(dict)

    async def ensure_indexes(self) -> None:
        return None

    async def store(
        self, kind: RecordKind[R], record: R, *, stale: set[Stale] | None = None
    ) -> None:
        self.stored[kind.collection].setdefault(kind.key(record), record)

    async def refresh(self, stale: set[Stale]) -> None:
        """Nothing to recompute: every report reads the records."""

    async def daily(self, query: RecordFilter) -> dict[date, DayCounts]:
        first, end = day_span(query, self.zone)
        windows: Counter[date] = Counter()
        staffed: Counter[date] = Counter()
        for window in await self.records(GUARD_WINDOWS, query):
            day = tallies.local_day(window.window_start, self.zone)
            windows[day] += 1
            staffed[day] += window.state == "staffed"
        violations = Counter(
            tallies.local_day(v.observed_at, self.zone)
            for v in await self.records(VIOLATIONS, query)
        )
        looked: Counter[date] = Counter()
        seen: Counter[date] = Counter()
        for school_window in await self.records(VISIBILITY, query):
            day = tallies.local_day(school_window.window_start, self.zone)
            looked[day] += 1
            seen[day] += school_window.seen
        return {
            day: DayCounts(windows[day], staffed[day], violations[day], looked[day], seen[day])
            for day in {*windows, *violations, *looked}
            if first <= day < end
        }

    async def records(self, kind: RecordKind[R], query: RecordFilter) -> list[R]:
        found = [r for r in self.stored[kind.collection].values() if query.admits(kind, r)]
        return sorted(found, key=kind.time_of)

    async def coverage(self, query: RecordFilter) -> dict[str, tallies.Fields]:
        checkins = await self.records(CHECKINS, query)
        visits = await self.records(VISITS, query)
        facet = coverage_facet(query)
        found = tallies.coverage(checkins, visits, self.zone)
        return {school_id: facets[facet] for school_id, facets in found.items() if facet in facets}

    async def visibility(self, query: RecordFilter) -> dict[str, tallies.Facets]:
        found = tallies.seen(await self.records(VISIBILITY, query))
        wanted = guard_facets(query)
        return {s: {f: v for f, v in fs.items() if f in wanted} for s, fs in found.items()}

    async def guard(self, query: RecordFilter) -> dict[str, tallies.Facets]:
        found = tallies.guard(await self.records(GUARD_WINDOWS, query))
        wanted = guard_facets(query)
        return {s: {f: v for f, v in fs.items() if f in wanted} for s, fs in found.items()}

    async def violation_counts(self, query: RecordFilter) -> Counter[ViolationKey]:
        return Counter(violation_key(r) for r in await self.records(VIOLATIONS, query))

    async def trouble_spans(self, query: RecordFilter) -> list[TroubleSpan]:
        mine = RecordFilter(school_ids=query.school_ids)
        spans = spans_of(await self.records(TROUBLES, mine))
        return [span for span in spans if span.overlaps(query.since, query.until)]

    async def alarm_tally(self, query: FactFilter) -> AlarmTally:
        return tallies.alarms(await self.alarm_facts(query))

    async def activity_ledger(self, query: RecordFilter) -> tallies.Ledger:
        return tallies.activity_ledger(await self.records(ACTIVITIES, query))

    async def record_alarm(self, event: AlarmLifecycle, *, stale: set[Stale] | None = None) -> None:
        if event.change == "folded":
            return
        if event.state == "raised":
            self.raised.setdefault(str(event.alarm_id), event)
        if event.state in CLOSED_STATES:
            self.closed[str(event.alarm_id)] = event
        states = self.states[str(event.alarm_id)]
        states[event.state] = min(states.get(event.state, event.occurred_at), event.occurred_at)

    async def alarm_facts(self, query: FactFilter) -> list[AlarmFact]:
        facts = []
        for alarm_id, event in self.raised.items():
            at = event.occurred_at
            if (query.since and at < query.since) or (query.until and at >= query.until):
                continue
            if (query.township and event.school.township != query.township) or (
                query.school_id and event.school.school_id != query.school_id
            ):
                continue
            if query.kind and event.kind != query.kind:
                continue
            facts.append(
                AlarmFact(
                    alarm_id=event.alarm_id,
                    school_id=event.school.school_id,
                    township=event.school.township,
                    kind=event.kind,
                    test=event.test,
                    pressed_at=event.pressed_at,
                    states=dict(self.states[alarm_id]),
                    closed=self.closed[alarm_id].state if alarm_id in self.closed else None,
                    outcome=self.closed[alarm_id].outcome if alarm_id in self.closed else None,
                    raised_at=at,
                )
            )
        return sorted(facts, key=lambda f: f.pressed_at)

    async def alarms_by_school(
        self, *, since: datetime | None, until: datetime | None, township: str | None
    ) -> list[SchoolAlarmCount]:
        rows: dict[str, list[AlarmLifecycle]] = defaultdict(list)
        for event in self.raised.values():
            if (since and event.occurred_at < since) or (until and event.occurred_at >= until):
                continue
            if township and event.school.township != township:
                continue
            rows[event.school.school_id].append(event)
        return [
            SchoolAlarmCount(
                school_id=school_id,
                name=events[0].school.name,
                township=events[0].school.township,
                alarms=sum(not e.test for e in events),
                tests=sum(e.test for e in events),
            )
            for school_id, events in sorted(rows.items())
        ]
