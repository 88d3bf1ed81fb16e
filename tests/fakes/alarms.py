"""The in-memory fake of services.alarms.repository; held to the real one by
tests/contracts/test_alarms_repository.py."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.alarms.lifecycle import OPEN
from services.alarms.models import Alarm, AlarmChange, CommandResult, PressRecord
from services.alarms.repository import AlarmFilter
from shared.events import AlarmLifecycle, AlarmPressed


class InMemoryAlarmRepository:
    """Same behaviour as the MongoDB repository, in dicts; for unit tests only."""

    def __init__(self) -> None:
        self.presses: dict[uuid.UUID, PressRecord] = {}
        self.signatures: dict[str, uuid.UUID] = {}
        self.alarms: dict[uuid.UUID, Alarm] = {}
        self.audit: dict[uuid.UUID, AlarmLifecycle] = {}
        self.results: dict[uuid.UUID, CommandResult] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def record_press(self, event: AlarmPressed) -> PressRecord:
        if event.press_id in self.presses:
            stored = self.presses[event.press_id]
            return PressRecord(event=stored.event, published=stored.published, new=False)
        self.presses[event.press_id] = PressRecord(event=event, published=False, new=True)
        return self.presses[event.press_id]

    async def mark_press_published(self, press_id: uuid.UUID) -> None:
        stored = self.presses[press_id]
        self.presses[press_id] = PressRecord(event=stored.event, published=True, new=False)

    async def test_presses(self, since: datetime, until: datetime) -> list[AlarmPressed]:
        return [
            r.event
            for r in self.presses.values()
            if r.event.test and since <= r.event.received_at < until
        ]

    async def remember_signature(
        self, signature: str, press_id: uuid.UUID, *, now: datetime
    ) -> uuid.UUID:
        return self.signatures.setdefault(signature, press_id)

    async def create_alarm(self, alarm: Alarm) -> Alarm:
        return self.alarms.setdefault(alarm.alarm_id, alarm)

    async def get(self, alarm_id: uuid.UUID) -> Alarm | None:
        if alarm_id in self.alarms:
            return self.alarms[alarm_id]
        return next((a for a in self.alarms.values() if alarm_id in a.press_alarm_ids), None)

    async def open_at_school(self, school_id: str, *, test: bool, since: datetime) -> Alarm | None:
        found = [
            a
            for a in self.alarms.values()
            if a.school.school_id == school_id
            and a.test == test
            and a.state in OPEN
            and a.raised_at >= since
        ]
        return max(found, key=lambda a: a.raised_at, default=None)

    async def compare_and_set(self, alarm: Alarm, change: AlarmChange) -> Alarm | None:
        current = self.alarms[alarm.alarm_id]
        if current.version != alarm.version:
            return None
        self.alarms[alarm.alarm_id] = change.applied_to(current)
        return self.alarms[alarm.alarm_id]

    async def pull_outbox(self, alarm_id: uuid.UUID, event_id: uuid.UUID) -> None:
        alarm = self.alarms[alarm_id]
        outbox = [e for e in alarm.outbox if e.event_id != event_id]
        self.alarms[alarm_id] = alarm.model_copy(update={"outbox": outbox})

    async def with_outbox(self, *, older_than: datetime, limit: int) -> list[Alarm]:
        return [
            a
            for a in self.alarms.values()
            if a.outbox and min(e.occurred_at for e in a.outbox) <= older_than
        ][:limit]

    async def due(self, now: datetime, *, limit: int) -> list[Alarm]:
        return [
            a
            for a in self.alarms.values()
            if a.state in OPEN
            and any(d is not None and d <= now for d in (a.ack_deadline, a.on_scene_deadline))
        ][:limit]

    async def append_audit(self, event: AlarmLifecycle) -> None:
        self.audit.setdefault(event.event_id, event)

    async def timeline(self, alarm_id: uuid.UUID) -> list[AlarmLifecycle]:
        return sorted(
            (e for e in self.audit.values() if e.alarm_id == alarm_id), key=lambda e: e.occurred_at
        )

    async def find(self, query: AlarmFilter) -> list[Alarm]:
        def keep(a: Alarm) -> bool:
            return (
                (not query.open_only or a.state in OPEN)
                and (query.state is None or a.state == query.state)
                and (query.school_id is None or a.school.school_id == query.school_id)
                and (query.township is None or a.school.township == query.township)
                and (query.kind is None or a.kind == query.kind)
                and (query.include_tests or not a.test)
                and (query.since is None or a.raised_at >= query.since)
                and (query.until is None or a.raised_at < query.until)
            )

        found = sorted(filter(keep, self.alarms.values()), key=lambda a: a.raised_at, reverse=True)
        return found[: query.limit]

    async def count_open_by_state(self) -> dict[tuple[str, bool], int]:
        counts: dict[tuple[str, bool], int] = {}
        for alarm in self.alarms.values():
            if alarm.state in OPEN:
                key = (alarm.state, alarm.test)
                counts[key] = counts.get(key, 0) + 1
        return counts

    async def save_result(self, result: CommandResult) -> None:
        self.results[result.command_id] = result

    async def result(self, command_id: uuid.UUID) -> CommandResult | None:
        return self.results.get(command_id)
