"""Persistence of reporting read models: MongoDB, and a fake for unit tests."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.models import SchoolAlarmCount
from shared.events import AlarmLifecycle
from shared.mongo import Document


class ReportingRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def record_alarm(self, event: AlarmLifecycle) -> None: ...

    async def alarms_by_school(
        self, *, since: datetime | None, until: datetime | None, township: str | None
    ) -> list[SchoolAlarmCount]: ...


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


class InMemoryReportingRepository:
    def __init__(self) -> None:
        self.raised: dict[str, AlarmLifecycle] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def record_alarm(self, event: AlarmLifecycle) -> None:
        if event.state == "raised" and event.change == "transition":
            self.raised.setdefault(str(event.alarm_id), event)

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
