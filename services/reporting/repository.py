"""Persistence of reporting read models: MongoDB, and a fake for unit tests."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.models import AlarmFact, SchoolAlarmCount
from shared.events import AlarmLifecycle
from shared.mongo import Document


class ReportingRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def record_alarm(self, event: AlarmLifecycle) -> None: ...

    async def alarms_by_school(
        self, *, since: datetime | None, until: datetime | None, township: str | None
    ) -> list[SchoolAlarmCount]: ...

    async def alarm_facts(self, query: FactFilter) -> list[AlarmFact]: ...


@dataclass(frozen=True)
class FactFilter:
    """Alarms raised in [since, until), optionally of one township, school or kind."""

    since: datetime | None = None
    until: datetime | None = None
    township: str | None = None
    school_id: str | None = None
    kind: str | None = None


def _window(since: datetime | None, until: datetime | None) -> Document:
    bounds: Document = {}
    if since is not None:
        bounds["$gte"] = since
    if until is not None:
        bounds["$lt"] = until
    return {"raised_at": bounds} if bounds else {}


class MongoReportingRepository:
    """`alarm_facts`: one document per alarm (_id alarm_id), so replays give the same figures."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._facts = db["alarm_facts"]

    async def ensure_indexes(self) -> None:
        await self._facts.create_index([("raised_at", ASCENDING)])
        await self._facts.create_index([("township", ASCENDING), ("raised_at", ASCENDING)])

    async def record_alarm(self, event: AlarmLifecycle) -> None:
        if event.change == "folded":  # another press joined: not a transition
            await self._facts.update_one(
                {"_id": str(event.alarm_id)}, {"$max": {"press_count": event.press_count}}
            )
            return
        update: Document = {
            "$setOnInsert": {
                "school_id": event.school.school_id,
                "school_name": event.school.name,
                "township": event.school.township,
                "kind": event.kind,
                "test": event.test,
            },
            "$min": {f"states.{event.state}": event.occurred_at},
            "$max": {"press_count": event.press_count},
        }
        if event.state == "raised":
            update["$min"]["raised_at"] = event.occurred_at
            update["$min"]["pressed_at"] = event.pressed_at
        await self._facts.update_one({"_id": str(event.alarm_id)}, update, upsert=True)

    async def alarms_by_school(
        self, *, since: datetime | None, until: datetime | None, township: str | None
    ) -> list[SchoolAlarmCount]:
        match = _window(since, until) | ({"township": township} if township else {})
        match.setdefault("raised_at", {"$exists": True})
        pipeline: list[Document] = [
            {"$match": match},
            {
                "$group": {
                    "_id": "$school_id",
                    "name": {"$first": "$school_name"},
                    "township": {"$first": "$township"},
                    "alarms": {"$sum": {"$cond": ["$test", 0, 1]}},
                    "tests": {"$sum": {"$cond": ["$test", 1, 0]}},
                }
            },
            {"$sort": {"_id": 1}},
        ]
        cursor = await self._facts.aggregate(pipeline)
        return [
            SchoolAlarmCount(
                school_id=doc["_id"],
                name=doc["name"],
                township=doc["township"],
                alarms=doc["alarms"],
                tests=doc["tests"],
            )
            async for doc in cursor
        ]

    async def alarm_facts(self, query: FactFilter) -> list[AlarmFact]:
        match = _window(query.since, query.until)
        match.setdefault("raised_at", {"$exists": True})
        for field in ("township", "school_id", "kind"):
            if getattr(query, field) is not None:
                match[field] = getattr(query, field)
        return [
            AlarmFact(
                alarm_id=doc["_id"],
                school_id=doc["school_id"],
                township=doc["township"],
                kind=doc["kind"],
                test=doc["test"],
                pressed_at=doc.get("pressed_at", doc["raised_at"]),
                states=doc.get("states", {}),
            )
            async for doc in self._facts.find(match).sort("raised_at", ASCENDING)
        ]


class InMemoryReportingRepository:
    def __init__(self) -> None:
        self.raised: dict[str, AlarmLifecycle] = {}
        self.states: dict[str, dict[str, datetime]] = defaultdict(dict)

    async def ensure_indexes(self) -> None:
        return None

    async def record_alarm(self, event: AlarmLifecycle) -> None:
        if event.change == "folded":
            return
        if event.state == "raised":
            self.raised.setdefault(str(event.alarm_id), event)
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
