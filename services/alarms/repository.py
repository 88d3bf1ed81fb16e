"""Persistence of presses, alarms and the audit trail: MongoDB, and a fake for unit tests."""

from __future__ import annotations

import uuid
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.alarms.models import Alarm, PressRecord
from shared.events import AlarmLifecycle, AlarmPressed
from shared.mongo import Document


class AlarmRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def record_press(self, event: AlarmPressed) -> PressRecord: ...

    async def mark_press_published(self, press_id: uuid.UUID) -> None: ...

    async def create_alarm(self, alarm: Alarm) -> Alarm: ...

    async def mark_raised_published(self, alarm_id: uuid.UUID) -> None: ...

    async def append_audit(self, event: AlarmLifecycle) -> None: ...

    async def get(self, alarm_id: uuid.UUID) -> Alarm | None: ...

    async def list_recent(self, *, limit: int) -> list[Alarm]: ...


class MongoAlarmRepository:
    """Collections `presses` (_id press_id), `alarms` (_id alarm_id), `audit` (_id event_id)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._presses = db["presses"]
        self._alarms = db["alarms"]
        self._audit = db["audit"]

    async def ensure_indexes(self) -> None:
        await self._alarms.create_index([("state", ASCENDING), ("raised_at", DESCENDING)])
        await self._alarms.create_index(
            [("school.school_id", ASCENDING), ("raised_at", DESCENDING)]
        )
        await self._audit.create_index([("alarm_id", ASCENDING), ("occurred_at", ASCENDING)])

    async def record_press(self, event: AlarmPressed) -> PressRecord:
        doc = {
            "_id": str(event.press_id),
            "event": event.model_dump(mode="json"),
            "published": False,
        }
        try:
            await self._presses.insert_one(doc)
            return PressRecord(event=event, published=False, new=True)
        except DuplicateKeyError:
            stored = await self._presses.find_one({"_id": str(event.press_id)})
            if stored is None:  # deleted between the two calls: treat as new next time
                raise
            return PressRecord(
                event=AlarmPressed.model_validate(stored["event"]),
                published=bool(stored["published"]),
                new=False,
            )

    async def mark_press_published(self, press_id: uuid.UUID) -> None:
        await self._presses.update_one({"_id": str(press_id)}, {"$set": {"published": True}})

    async def create_alarm(self, alarm: Alarm) -> Alarm:
        doc = alarm.model_dump(mode="python")
        doc = _to_mongo(doc) | {"_id": str(alarm.alarm_id)}
        stored = await self._alarms.find_one_and_update(
            {"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True, return_document=True
        )
        return _alarm(stored)

    async def mark_raised_published(self, alarm_id: uuid.UUID) -> None:
        await self._alarms.update_one({"_id": str(alarm_id)}, {"$set": {"raised_published": True}})

    async def append_audit(self, event: AlarmLifecycle) -> None:
        doc = _to_mongo(event.model_dump(mode="python")) | {"_id": str(event.event_id)}
        await self._audit.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)

    async def get(self, alarm_id: uuid.UUID) -> Alarm | None:
        doc = await self._alarms.find_one({"_id": str(alarm_id)})
        return _alarm(doc) if doc else None

    async def list_recent(self, *, limit: int) -> list[Alarm]:
        cursor = self._alarms.find({}).sort("raised_at", DESCENDING).limit(limit)
        return [_alarm(doc) async for doc in cursor]


def _to_mongo(doc: Document) -> Document:
    """UUIDs as strings (portable across drivers); everything else BSON takes as is."""
    out: Document = {}
    for key, value in doc.items():
        if isinstance(value, uuid.UUID):
            out[key] = str(value)
        elif isinstance(value, dict):
            out[key] = _to_mongo(value)
        else:
            out[key] = value
    return out


def _alarm(doc: Document | None) -> Alarm:
    assert doc is not None
    return Alarm.model_validate(doc)


class InMemoryAlarmRepository:
    """Same behaviour as the MongoDB repository, in dicts; for unit tests only."""

    def __init__(self) -> None:
        self.presses: dict[uuid.UUID, PressRecord] = {}
        self.alarms: dict[uuid.UUID, Alarm] = {}
        self.audit: dict[uuid.UUID, AlarmLifecycle] = {}

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

    async def create_alarm(self, alarm: Alarm) -> Alarm:
        return self.alarms.setdefault(alarm.alarm_id, alarm)

    async def mark_raised_published(self, alarm_id: uuid.UUID) -> None:
        self.alarms[alarm_id] = self.alarms[alarm_id].model_copy(update={"raised_published": True})

    async def append_audit(self, event: AlarmLifecycle) -> None:
        self.audit.setdefault(event.event_id, event)

    async def get(self, alarm_id: uuid.UUID) -> Alarm | None:
        return self.alarms.get(alarm_id)

    async def list_recent(self, *, limit: int) -> list[Alarm]:
        return sorted(self.alarms.values(), key=lambda a: a.raised_at, reverse=True)[:limit]
