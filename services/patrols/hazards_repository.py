"""Persistence of hazards: `hazards`, one document per hazard as it is now (its newest
version), marked `unpublished` until that version's event is on the broker. Each change is a
compare-and-set on the version."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events.hazards import HazardChanged, HazardState
from shared.mongo import Document, to_document


class HazardsRepository(Protocol):
    async def insert_hazard(self, hazard: HazardChanged) -> bool: ...

    async def hazard(self, hazard_id: uuid.UUID) -> HazardChanged | None: ...

    async def replace_hazard(self, hazard: HazardChanged) -> bool: ...

    async def hazards(
        self, *, school_ids: list[str] | None, state: HazardState | None, limit: int
    ) -> list[HazardChanged]: ...

    async def hazards_due(self, *, now: datetime) -> list[HazardChanged]: ...

    async def hazard_published(self, hazard_id: uuid.UUID, version: int) -> None: ...

    async def unpublished_hazards(self, *, before: datetime) -> list[HazardChanged]: ...


class MongoHazards:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._hazards = db["hazards"]

    async def ensure_indexes(self) -> None:
        await self._hazards.create_index([("state", ASCENDING), ("deadline", ASCENDING)])
        await self._hazards.create_index([("school.school_id", ASCENDING)])
        await self._hazards.create_index([("reported_at", DESCENDING)])
        await self._hazards.create_index("unpublished", sparse=True)

    async def insert_hazard(self, hazard: HazardChanged) -> bool:
        """False when a hazard with that id is stored already."""
        doc = to_document(hazard, _id=str(hazard.hazard_id), unpublished=True)
        try:
            await self._hazards.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def hazard(self, hazard_id: uuid.UUID) -> HazardChanged | None:
        doc = await self._hazards.find_one({"_id": str(hazard_id)})
        return HazardChanged.model_validate(doc) if doc else None

    async def replace_hazard(self, hazard: HazardChanged) -> bool:
        """Stored if the held version is the one before; False if another change came first."""
        doc = to_document(hazard, _id=str(hazard.hazard_id), unpublished=True)
        done = await self._hazards.replace_one(
            {"_id": str(hazard.hazard_id), "version": hazard.version - 1}, doc
        )
        return done.matched_count == 1

    async def hazards(
        self, *, school_ids: list[str] | None, state: HazardState | None, limit: int
    ) -> list[HazardChanged]:
        query: Document = {}
        if school_ids is not None:
            query["school.school_id"] = {"$in": school_ids}
        if state is not None:
            query["state"] = state
        cursor = self._hazards.find(query).sort("reported_at", DESCENDING).limit(limit)
        return [HazardChanged.model_validate(doc) async for doc in cursor]

    async def hazards_due(self, *, now: datetime) -> list[HazardChanged]:
        cursor = self._hazards.find({"state": "assigned", "deadline": {"$lt": now}})
        return [HazardChanged.model_validate(doc) async for doc in cursor]

    async def hazard_published(self, hazard_id: uuid.UUID, version: int) -> None:
        await self._hazards.update_one(
            {"_id": str(hazard_id), "version": version}, {"$unset": {"unpublished": ""}}
        )

    async def unpublished_hazards(self, *, before: datetime) -> list[HazardChanged]:
        cursor = self._hazards.find({"unpublished": True, "occurred_at": {"$lt": before}})
        return [HazardChanged.model_validate(doc) async for doc in cursor]
