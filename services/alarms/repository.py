"""Persistence of presses, alarms, the audit trail, command results and seen signatures:
MongoDB, and a fake with the same behaviour for unit tests.

Every change to an alarm is one atomic compare-and-set on its `version`, carrying the
lifecycle events it causes in the alarm's `outbox` (see models.Alarm)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.alarms.lifecycle import OPEN
from services.alarms.models import Alarm, AlarmChange, CommandResult, PressRecord
from shared.events import AlarmLifecycle, AlarmPressed
from shared.mongo import (
    EPOCH,
    Document,
    as_stored,
    bson_value,
    pull_from_outbox,
    to_document,
)
from shared.period import Period


@dataclass(frozen=True, kw_only=True)
class AlarmFilter(Period):
    """Filters of the dispatcher's alarm list (raised in the period); None means any."""

    open_only: bool = False
    state: str | None = None
    school_id: str | None = None
    township: str | None = None
    kind: str | None = None
    include_tests: bool = True
    limit: int = 100


class AlarmRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def record_press(self, event: AlarmPressed) -> PressRecord: ...

    async def mark_press_published(self, press_id: uuid.UUID) -> None: ...

    async def test_presses(self, since: datetime, until: datetime) -> list[AlarmPressed]:
        """Presses marked `test` received in [since, until)."""
        ...

    async def remember_signature(
        self, signature: str, press_id: uuid.UUID, *, now: datetime
    ) -> uuid.UUID: ...

    async def create_alarm(self, alarm: Alarm) -> Alarm: ...

    async def get(self, alarm_id: uuid.UUID) -> Alarm | None: ...

    async def open_at_school(
        self, school_id: str, *, test: bool, since: datetime
    ) -> Alarm | None: ...

    async def compare_and_set(self, alarm: Alarm, change: AlarmChange) -> Alarm | None: ...

    async def pull_outbox(self, alarm_id: uuid.UUID, event_id: uuid.UUID) -> None: ...

    async def with_outbox(self, *, older_than: datetime, limit: int) -> list[Alarm]: ...

    async def due(self, now: datetime, *, limit: int) -> list[Alarm]: ...

    async def append_audit(self, event: AlarmLifecycle) -> None: ...

    async def timeline(self, alarm_id: uuid.UUID) -> list[AlarmLifecycle]: ...

    async def find(self, query: AlarmFilter) -> list[Alarm]: ...

    async def count_open_by_state(self) -> dict[tuple[str, bool], int]: ...

    async def save_result(self, result: CommandResult) -> None: ...

    async def result(self, command_id: uuid.UUID) -> CommandResult | None: ...


class MongoAlarmRepository:
    """`presses`, `signatures` (TTL), `alarms`, `audit` (append-only), `commands`."""

    def __init__(self, db: AsyncDatabase[Document], *, signature_ttl_s: int = 900) -> None:
        self._presses = db["presses"]
        self._signatures = db["signatures"]
        self._alarms = db["alarms"]
        self._audit = db["audit"]
        self._commands = db["commands"]
        self._signature_ttl_s = signature_ttl_s

    async def ensure_indexes(self) -> None:
        await self._alarms.create_index([("state", ASCENDING), ("raised_at", DESCENDING)])
        await self._alarms.create_index(
            [("school.school_id", ASCENDING), ("raised_at", DESCENDING)]
        )
        await self._alarms.create_index("press_alarm_ids")
        await self._alarms.create_index("ack_deadline", sparse=True)
        await self._alarms.create_index("on_scene_deadline", sparse=True)
        await self._alarms.create_index("outbox_since", sparse=True)
        # alarms stored before `outbox_since` existed: marked once, so the relay finds them
        await self._alarms.update_many(
            {"outbox.0": {"$exists": True}, "outbox_since": {"$exists": False}},
            {"$set": {"outbox_since": datetime.now(UTC)}},
        )
        await self._audit.create_index([("alarm_id", ASCENDING), ("occurred_at", ASCENDING)])
        await self._signatures.create_index("seen_at", expireAfterSeconds=self._signature_ttl_s)
        await self._presses.create_index("received_at", sparse=True)

    async def record_press(self, event: AlarmPressed) -> PressRecord:
        doc = {
            "_id": str(event.press_id),
            "event": event.model_dump(mode="json"),
            "published": False,
            # as BSON dates, for live-test reports (the event holds them as text)
            "received_at": event.received_at,
            "test": event.test,
        }
        try:
            await self._presses.insert_one(doc)
            return PressRecord(event=event, published=False, new=True)
        except DuplicateKeyError:
            stored = await self._presses.find_one({"_id": str(event.press_id)})
            if stored is None:
                raise
            return PressRecord(
                event=AlarmPressed.model_validate(stored["event"]),
                published=bool(stored["published"]),
                new=False,
            )

    async def mark_press_published(self, press_id: uuid.UUID) -> None:
        await self._presses.update_one({"_id": str(press_id)}, {"$set": {"published": True}})

    async def test_presses(self, since: datetime, until: datetime) -> list[AlarmPressed]:
        """One indexed range, the `test` mark checked here (SecantusDB scans for a filter on a
        field beyond the index's)."""
        cursor = self._presses.find({"received_at": {"$gte": since, "$lt": until}})
        return [
            AlarmPressed.model_validate(doc["event"]) async for doc in cursor if doc.get("test")
        ]

    async def remember_signature(
        self, signature: str, press_id: uuid.UUID, *, now: datetime
    ) -> uuid.UUID:
        """Store a signature once; returns the press_id it was first seen with."""
        try:
            await self._signatures.insert_one(
                {"_id": signature, "press_id": str(press_id), "seen_at": now}
            )
            return press_id
        except DuplicateKeyError:
            stored = await self._signatures.find_one({"_id": signature})
            return uuid.UUID(stored["press_id"]) if stored else press_id

    async def create_alarm(self, alarm: Alarm) -> Alarm:
        """Insert the alarm; if its id is taken (a redelivered press), the stored one."""
        doc = to_document(alarm, _id=str(alarm.alarm_id))
        if alarm.outbox:
            doc["outbox_since"] = min(e.occurred_at for e in alarm.outbox)
        try:
            await self._alarms.insert_one(doc)
        except DuplicateKeyError:
            return await self._taken(doc["_id"])
        return Alarm.model_validate(as_stored(self._alarms, doc))

    async def _taken(self, key: str) -> Alarm:
        stored = await self._alarms.find_one({"_id": key})
        if stored is None:
            raise RuntimeError(f"alarm {key} refused as a duplicate, yet not found")
        return Alarm.model_validate(stored)

    async def get(self, alarm_id: uuid.UUID) -> Alarm | None:
        """By id, else by the id of a press folded into it: two indexed lookups at once (an
        `$or` of both scanned every alarm on SecantusDB)."""
        key = str(alarm_id)
        by_id, by_press = await asyncio.gather(
            self._alarms.find_one({"_id": key}), self._alarms.find_one({"press_alarm_ids": key})
        )
        doc = by_id or by_press
        return Alarm.model_validate(doc) if doc else None

    async def open_at_school(self, school_id: str, *, test: bool, since: datetime) -> Alarm | None:
        """The newest open alarm at the school since `since`. The query names only the
        index's fields (school, raised_at): SecantusDB scans the collection for a filter on
        any field beyond an index's, so state and test are checked here on the few found."""
        cursor = self._alarms.find(
            {"school.school_id": school_id, "raised_at": {"$gte": since}},
            sort=[("raised_at", DESCENDING)],
        )
        async for doc in cursor:
            if doc["test"] == test and doc["state"] in OPEN:
                return Alarm.model_validate(doc)
        return None

    async def compare_and_set(self, alarm: Alarm, change: AlarmChange) -> Alarm | None:
        """Apply changes if nobody changed the alarm since `alarm` was read; None otherwise.
        The alarm as changed is built here from `alarm` (the version matched, so that is what
        was stored): an indexed update, no findAndModify (shared.mongo.as_stored). Its outbox
        may still list events a concurrent relay pulled meanwhile: published again, same ids."""
        after = change.applied_to(alarm)
        update: Document = {
            "$set": bson_value(change.fields),
            "$inc": {"version": 1},
            "$push": {"outbox": to_document(change.event)},
            "$min": {"outbox_since": change.event.occurred_at},
        }
        if change.command_id is not None:
            update["$push"]["applied_commands"] = str(change.command_id)
        if change.alias is not None:
            update["$push"]["press_alarm_ids"] = str(change.alias)
        result = await self._alarms.update_one(
            {"_id": str(alarm.alarm_id), "version": alarm.version}, update
        )
        if result.matched_count == 0:
            return None
        return Alarm.model_validate(as_stored(self._alarms, to_document(after)))

    async def pull_outbox(self, alarm_id: uuid.UUID, event_id: uuid.UUID) -> None:
        await pull_from_outbox(self._alarms, str(alarm_id), str(event_id))

    async def with_outbox(self, *, older_than: datetime, limit: int) -> list[Alarm]:
        """Alarms with events not yet published, the oldest written before `older_than`:
        `outbox_since` (sparse, indexed) is there while the outbox is not empty, so the
        relay's tick reads only those."""
        cursor = self._alarms.find({"outbox_since": {"$gte": EPOCH, "$lte": older_than}})
        cursor = cursor.limit(limit)
        return [Alarm.model_validate(doc) async for doc in cursor]

    async def due(self, now: datetime, *, limit: int) -> list[Alarm]:
        """Open alarms past a deadline: one indexed range per deadline, nothing else in the
        filter (an `$or`, or a second field, made SecantusDB scan every alarm). Only open
        alarms hold deadlines: acknowledging clears the first, on scene or closing both."""
        found: dict[str, Alarm] = {}
        for deadline in ("ack_deadline", "on_scene_deadline"):
            async for doc in self._alarms.find({deadline: {"$lte": now}}).limit(limit):
                if doc["state"] in OPEN:
                    found.setdefault(doc["_id"], Alarm.model_validate(doc))
        return list(found.values())[:limit]

    async def append_audit(self, event: AlarmLifecycle) -> None:
        doc = to_document(event, _id=str(event.event_id))
        await self._audit.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)

    async def timeline(self, alarm_id: uuid.UUID) -> list[AlarmLifecycle]:
        cursor = self._audit.find({"alarm_id": str(alarm_id)}).sort("occurred_at", ASCENDING)
        return [AlarmLifecycle.model_validate(doc) async for doc in cursor]

    async def find(self, query: AlarmFilter) -> list[Alarm]:
        cursor = self._alarms.find(_filter(query)).sort("raised_at", DESCENDING).limit(query.limit)
        return [Alarm.model_validate(doc) async for doc in cursor]

    async def count_open_by_state(self) -> dict[tuple[str, bool], int]:
        """Open alarms by (state, test)."""
        cursor = await self._alarms.aggregate(
            [
                {"$match": {"state": {"$in": sorted(OPEN)}}},
                {"$group": {"_id": {"state": "$state", "test": "$test"}, "n": {"$sum": 1}}},
            ]
        )
        return {
            (doc["_id"]["state"], bool(doc["_id"]["test"])): int(doc["n"]) async for doc in cursor
        }

    async def save_result(self, result: CommandResult) -> None:
        await self._commands.replace_one({"_id": str(result.command_id)}, result.doc(), upsert=True)

    async def result(self, command_id: uuid.UUID) -> CommandResult | None:
        doc = await self._commands.find_one({"_id": str(command_id)})
        return CommandResult.model_validate(doc) if doc else None


def _filter(query: AlarmFilter) -> Document:
    conditions: Document = {}
    if query.open_only:
        conditions["state"] = {"$in": sorted(OPEN)}
    if query.state:
        conditions["state"] = query.state
    if query.school_id:
        conditions["school.school_id"] = query.school_id
    if query.township:
        conditions["school.township"] = query.township
    if query.kind:
        conditions["kind"] = query.kind
    if not query.include_tests:
        conditions["test"] = False
    return conditions | query.mongo("raised_at")
