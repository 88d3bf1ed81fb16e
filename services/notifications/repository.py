"""Persistence of the unit-position read model and the dispatcher feed."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, GEOSPHERE, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifications.models import FeedEntry
from shared.events import (
    DISPATCHABLE,
    NearbyUnit,
    PositionReported,
    UnitStatusChanged,
    newest_per_unit,
)
from shared.geo import geojson_point, haversine_m
from shared.mongo import GEO_INDEX_OPTIONS, Document, to_document, tolerating_duplicates


class NotificationRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def upsert_positions(self, fixes: list[PositionReported]) -> None: ...

    async def set_status(self, change: UnitStatusChanged) -> None: ...

    async def nearest_units(
        self, *, lat: float, lon: float, radius_m: float, limit: int, fresh_since: datetime
    ) -> list[NearbyUnit]: ...

    async def next_seq(self) -> int: ...

    async def has_feed_entry(self, event_id: str) -> bool: ...

    async def insert_feed(self, entry: FeedEntry) -> bool: ...

    async def feed_after(self, seq: int, *, limit: int) -> list[FeedEntry]: ...

    async def last_seq(self) -> int: ...


class MongoNotificationRepository:
    """`unit_positions` (_id unit_id, 2dsphere), `dispatcher_feed` (_id event_id), `counters`."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._positions = db["unit_positions"]
        self._feed = db["dispatcher_feed"]
        self._counters = db["counters"]

    async def ensure_indexes(self) -> None:
        await self._positions.create_index([("loc", GEOSPHERE)], **GEO_INDEX_OPTIONS)
        await self._feed.create_index([("seq", ASCENDING)], unique=True)

    async def upsert_positions(self, fixes: list[PositionReported]) -> None:
        """Move each unit to its newest fix, unless we already hold a newer one (then the
        upsert collides with the existing _id, which is what 'already newer' looks like)."""
        moves = [
            UpdateOne(
                {
                    "_id": fix.unit_id,
                    "$or": [
                        {"recorded_at": {"$lt": fix.recorded_at}},
                        {"recorded_at": {"$exists": False}},  # only its status known so far
                    ],
                },
                {"$set": {"loc": geojson_point(fix.lat, fix.lon), "recorded_at": fix.recorded_at}},
                upsert=True,
            )
            for fix in newest_per_unit(fixes)
        ]
        await tolerating_duplicates(self._positions.bulk_write(moves, ordered=False))

    async def set_status(self, change: UnitStatusChanged) -> None:
        """Keep the unit's newest status (by version); an older or repeated change is a no-op."""
        await tolerating_duplicates(
            self._positions.bulk_write(
                [
                    UpdateOne(
                        {
                            "_id": change.unit_id,
                            "$or": [
                                {"status_version": {"$lt": change.version}},
                                {"status_version": {"$exists": False}},
                            ],
                        },
                        {"$set": {"status": change.status, "status_version": change.version}},
                        upsert=True,
                    )
                ]
            )
        )

    async def nearest_units(
        self, *, lat: float, lon: float, radius_m: float, limit: int, fresh_since: datetime
    ) -> list[NearbyUnit]:
        pipeline: list[Document] = [
            {
                "$geoNear": {
                    "near": geojson_point(lat, lon),
                    "distanceField": "distance_m",
                    "maxDistance": radius_m,
                    "spherical": True,
                    "key": "loc",
                    "query": {
                        "recorded_at": {"$gte": fresh_since},
                        # never reported a status: on patrol since provisioning
                        "$or": [
                            {"status": {"$in": list(DISPATCHABLE)}},
                            {"status": {"$exists": False}},
                        ],
                    },
                }
            },
            {"$limit": limit},
        ]
        cursor = await self._positions.aggregate(pipeline)
        return [
            NearbyUnit(
                unit_id=doc["_id"],
                distance_m=round(doc["distance_m"], 1),
                lat=doc["loc"]["coordinates"][1],
                lon=doc["loc"]["coordinates"][0],
            )
            async for doc in cursor
        ]

    async def next_seq(self) -> int:
        doc = await self._counters.find_one_and_update(
            {"_id": "dispatcher_feed"},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return int(doc["value"])

    async def has_feed_entry(self, event_id: str) -> bool:
        return await self._feed.count_documents({"_id": event_id}, limit=1) > 0

    async def insert_feed(self, entry: FeedEntry) -> bool:
        doc = to_document(entry, _id=str(entry.event_id))
        try:
            await self._feed.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def feed_after(self, seq: int, *, limit: int) -> list[FeedEntry]:
        cursor = self._feed.find({"seq": {"$gt": seq}}).sort("seq", ASCENDING).limit(limit)
        return [FeedEntry.model_validate(doc) async for doc in cursor]

    async def last_seq(self) -> int:
        doc = await self._counters.find_one({"_id": "dispatcher_feed"})
        return int(doc["value"]) if doc else 0


class InMemoryNotificationRepository:
    def __init__(self) -> None:
        self.positions: dict[str, PositionReported] = {}
        self.statuses: dict[str, UnitStatusChanged] = {}
        self.feed: dict[str, FeedEntry] = {}
        self.seq = 0

    async def ensure_indexes(self) -> None:
        return None

    async def upsert_positions(self, fixes: list[PositionReported]) -> None:
        for fix in newest_per_unit(fixes):
            held = self.positions.get(fix.unit_id)
            if held is None or held.recorded_at < fix.recorded_at:
                self.positions[fix.unit_id] = fix

    async def set_status(self, change: UnitStatusChanged) -> None:
        held = self.statuses.get(change.unit_id)
        if held is None or held.version < change.version:
            self.statuses[change.unit_id] = change

    def _dispatchable(self, unit_id: str) -> bool:
        held = self.statuses.get(unit_id)
        return held is None or held.status in DISPATCHABLE

    async def nearest_units(
        self, *, lat: float, lon: float, radius_m: float, limit: int, fresh_since: datetime
    ) -> list[NearbyUnit]:
        ranked = sorted(
            (
                (haversine_m(lat, lon, f.lat, f.lon), f)
                for f in self.positions.values()
                if f.recorded_at >= fresh_since and self._dispatchable(f.unit_id)
            ),
            key=lambda pair: pair[0],
        )
        return [
            NearbyUnit(unit_id=f.unit_id, distance_m=round(d, 1), lat=f.lat, lon=f.lon)
            for d, f in ranked
            if d <= radius_m
        ][:limit]

    async def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def has_feed_entry(self, event_id: str) -> bool:
        return event_id in self.feed

    async def insert_feed(self, entry: FeedEntry) -> bool:
        if str(entry.event_id) in self.feed:
            return False
        self.feed[str(entry.event_id)] = entry
        return True

    async def feed_after(self, seq: int, *, limit: int) -> list[FeedEntry]:
        return sorted((e for e in self.feed.values() if e.seq > seq), key=lambda e: e.seq)[:limit]

    async def last_seq(self) -> int:
        return self.seq
