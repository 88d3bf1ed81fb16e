"""Persistence of button supervision: each device's health (collection `device_health`) and
the supervisor's clock (collection `supervision`); a fake with the same behaviour is in
tests/fakes, held to this one by tests/contracts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.alarms.supervision import Beat, DeviceHealth, TroubleChange
from shared.events import SchoolRef
from shared.mongo import EPOCH, Document, bson_value, pull_from_outbox, to_document

CLOCK = "clock"


@dataclass(frozen=True)
class Heard:
    """A device heard at `at` (a heartbeat, with what it reported, or a press)."""

    device_id: str
    at: datetime
    watch_at: datetime
    beat: Beat | None = None

    def merged(self, newer: Heard) -> Heard:
        """Two in one batch: the later moment, and the newer beat."""
        return Heard(
            self.device_id,
            max(self.at, newer.at),
            max(self.watch_at, newer.watch_at),
            newer.beat or self.beat,
        )


class SupervisionRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def enroll(self, devices: Sequence[tuple[str, SchoolRef]], *, watch_at: datetime) -> int:
        """Devices not supervised yet, with silence counted from now; returns how many."""
        ...

    async def record_heard(self, heard: Sequence[Heard]) -> None: ...

    async def get(self, device_id: str) -> DeviceHealth | None: ...

    async def troubled(self, *, limit: int) -> list[DeviceHealth]:
        """Devices with open troubles or trouble events not yet published."""
        ...

    async def overdue(self, now: datetime, *, limit: int) -> list[DeviceHealth]:
        """Devices silent past their `watch_at`."""
        ...

    async def compare_and_set(
        self, health: DeviceHealth, change: TroubleChange, *, now: datetime
    ) -> bool: ...

    async def pull_outbox(self, device_id: str, event_id: uuid.UUID) -> None: ...

    async def tick(self, now: datetime, *, gap: timedelta) -> datetime:
        """Note that supervision ran at `now`; returns since when it has run without a gap
        longer than `gap` (a restart of every instance, or the database unreachable)."""
        ...

    async def count_troubles(self) -> dict[str, int]: ...

    async def find(
        self, *, in_trouble: bool, school_id: str | None, limit: int
    ) -> list[DeviceHealth]: ...


class MongoSupervisionRepository:
    """`device_health` (one document per device) and `supervision` (the clock)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._health = db["device_health"]
        self._clock = db["supervision"]

    async def ensure_indexes(self) -> None:
        await self._health.create_index("watch_at", sparse=True)
        await self._health.create_index("trouble_since", sparse=True)
        await self._health.create_index("outbox_since", sparse=True)
        await self._health.create_index("school.school_id")

    async def enroll(self, devices: Sequence[tuple[str, SchoolRef]], *, watch_at: datetime) -> int:
        """Only what differs is written (a new device, or one moved to another school): every
        instance enrols at every start, and a county's devices are mostly there already."""
        stored = {
            doc["_id"]: doc.get("school") async for doc in self._health.find({}, {"school": 1})
        }
        changed = [(d, school) for d, school in devices if stored.get(d) != bson_value(school)]
        if not changed:
            return 0
        result = await self._health.bulk_write(
            [
                UpdateOne(
                    {"_id": device_id},
                    {
                        "$setOnInsert": {
                            "device_id": device_id,
                            "watch_at": watch_at,
                            "troubles": {},
                            "version": 0,
                            "outbox": [],
                        },
                        "$set": {"school": bson_value(school)},
                    },
                    upsert=True,
                )
                for device_id, school in changed
            ],
            ordered=False,
        )
        return result.upserted_count

    async def record_heard(self, heard: Sequence[Heard]) -> None:
        if not heard:
            return
        await self._health.bulk_write([_heard_update(h) for h in heard], ordered=False)

    async def get(self, device_id: str) -> DeviceHealth | None:
        doc = await self._health.find_one({"_id": device_id})
        return DeviceHealth.model_validate(doc) if doc else None

    async def troubled(self, *, limit: int) -> list[DeviceHealth]:
        """Two indexed ranges, nothing else in the filter (SecantusDB scans for an `$or`)."""
        found: dict[str, DeviceHealth] = {}
        for marker in ("trouble_since", "outbox_since"):
            async for doc in self._health.find({marker: {"$gte": EPOCH}}).limit(limit):
                found.setdefault(doc["_id"], DeviceHealth.model_validate(doc))
        return list(found.values())

    async def overdue(self, now: datetime, *, limit: int) -> list[DeviceHealth]:
        cursor = self._health.find({"watch_at": {"$lte": now}}).limit(limit)
        return [DeviceHealth.model_validate(doc) async for doc in cursor]

    async def compare_and_set(
        self, health: DeviceHealth, change: TroubleChange, *, now: datetime
    ) -> bool:
        """Apply the change if nobody changed the device's troubles since `health` was read;
        raising `offline` also requires the device still silent (a beat may have come)."""
        condition: Document = {"_id": health.device_id, "version": health.version}
        update: Document = {
            "$set": {"troubles": bson_value(change.troubles)},
            "$inc": {"version": 1},
            "$push": {"outbox": {"$each": [to_document(e) for e in change.events]}},
            "$min": {"outbox_since": now},
        }
        if change.troubles:
            update["$set"]["trouble_since"] = min(t.since for t in change.troubles.values())
        else:
            update["$unset"] = {"trouble_since": ""}
        if change.offline_raised:
            condition["watch_at"] = {"$lte": now}
            update.setdefault("$unset", {})["watch_at"] = ""
        result = await self._health.update_one(condition, update)
        return result.matched_count == 1

    async def pull_outbox(self, device_id: str, event_id: uuid.UUID) -> None:
        await pull_from_outbox(self._health, device_id, str(event_id))

    async def tick(self, now: datetime, *, gap: timedelta) -> datetime:
        await self._clock.update_one(
            {"_id": CLOCK, "ticked_at": {"$lt": now - gap}},
            {"$set": {"resumed_at": now}},
        )
        await self._clock.update_one(
            {"_id": CLOCK},
            {"$max": {"ticked_at": now}, "$setOnInsert": {"resumed_at": now}},
            upsert=True,
        )
        doc = await self._clock.find_one({"_id": CLOCK})
        assert doc is not None  # upserted just now
        resumed: datetime = doc["resumed_at"]
        return resumed

    async def count_troubles(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        async for doc in self._health.find({"trouble_since": {"$gte": EPOCH}}, {"troubles": 1}):
            for kind in doc.get("troubles") or {}:
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    async def find(
        self, *, in_trouble: bool, school_id: str | None, limit: int
    ) -> list[DeviceHealth]:
        conditions: Document = {}
        if in_trouble:
            conditions["trouble_since"] = {"$gte": EPOCH}
        if school_id:
            conditions["school.school_id"] = school_id
        cursor = self._health.find(conditions).sort("_id", 1).limit(limit)
        return [DeviceHealth.model_validate(doc) async for doc in cursor]


def _heard_update(heard: Heard) -> UpdateOne:
    update: Document = {"$max": {"last_seen": heard.at, "watch_at": heard.watch_at}}
    if heard.beat is not None:
        update["$set"] = {"beat": bson_value(heard.beat)}
    return UpdateOne({"_id": heard.device_id}, update)
