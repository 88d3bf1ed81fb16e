"""Persistence of gate visits: `gate_visits`, one document per visit as it is now (its newest
version), marked `unpublished` until that version's event is on the broker; each change a
compare-and-set on the version."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.patrols.visitors import PERSONAL, GateVisit
from shared.mongo import Document, to_document


class VisitorsRepository(Protocol):
    async def insert_visit(self, visit: GateVisit) -> bool: ...

    async def visit(self, visit_id: uuid.UUID) -> GateVisit | None: ...

    async def replace_visit(self, visit: GateVisit) -> bool: ...

    async def erase_visit(self, visit: GateVisit) -> None: ...

    async def visits(
        self, *, school_id: str, inside: bool | None, since: datetime | None, limit: int
    ) -> list[GateVisit]: ...

    async def visits_inside(self) -> list[GateVisit]: ...

    async def visit_published(self, visit_id: uuid.UUID, version: int) -> None: ...

    async def unpublished_visits(self, *, before: datetime) -> list[GateVisit]: ...

    async def visits_to_erase(self, *, before: datetime, limit: int) -> list[GateVisit]: ...


class MongoVisitors:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._visits = db["gate_visits"]

    async def ensure_indexes(self) -> None:
        await self._visits.create_index(
            [("school.school_id", ASCENDING), ("arrived_at", DESCENDING)]
        )
        await self._visits.create_index("left_at")
        await self._visits.create_index("unpublished", sparse=True)

    async def insert_visit(self, visit: GateVisit) -> bool:
        """False when a visit with that id is stored already."""
        try:
            await self._visits.insert_one(_document(visit))
        except DuplicateKeyError:
            return False
        return True

    async def visit(self, visit_id: uuid.UUID) -> GateVisit | None:
        doc = await self._visits.find_one({"_id": str(visit_id)})
        return GateVisit.model_validate(doc) if doc else None

    async def replace_visit(self, visit: GateVisit) -> bool:
        """Stored if the held version is the one before; False if another change came first."""
        done = await self._visits.replace_one(
            {"_id": str(visit.visit_id), "version": visit.version - 1}, _document(visit)
        )
        return done.matched_count == 1

    async def erase_visit(self, visit: GateVisit) -> None:
        """The visit's personal fields gone (`visit` is its erased form, same version)."""
        fields = {name: getattr(visit, name) for name in PERSONAL}
        await self._visits.update_one(
            {"_id": str(visit.visit_id), "version": visit.version},
            {"$set": fields | {"erased_at": visit.erased_at}},
        )

    async def visits(
        self, *, school_id: str, inside: bool | None, since: datetime | None, limit: int
    ) -> list[GateVisit]:
        query: Document = {"school.school_id": school_id}
        if inside is not None:
            query["left_at"] = None if inside else {"$ne": None}
        if since is not None:
            query["arrived_at"] = {"$gte": since}
        cursor = self._visits.find(query).sort("arrived_at", DESCENDING).limit(limit)
        return [GateVisit.model_validate(doc) async for doc in cursor]

    async def visits_inside(self) -> list[GateVisit]:
        """Visitors not seen leaving and not flagged yet."""
        cursor = self._visits.find({"left_at": None, "after_hours": False})
        return [GateVisit.model_validate(doc) async for doc in cursor]

    async def visit_published(self, visit_id: uuid.UUID, version: int) -> None:
        await self._visits.update_one(
            {"_id": str(visit_id), "version": version}, {"$unset": {"unpublished": ""}}
        )

    async def unpublished_visits(self, *, before: datetime) -> list[GateVisit]:
        cursor = self._visits.find({"unpublished": True, "changed_at": {"$lt": before}})
        return [GateVisit.model_validate(doc) async for doc in cursor]

    async def visits_to_erase(self, *, before: datetime, limit: int) -> list[GateVisit]:
        """Visits that arrived before `before` whose personal fields are still there."""
        query = {"arrived_at": {"$lt": before}, "erased_at": None}
        cursor = self._visits.find(query).sort("arrived_at", ASCENDING).limit(limit)
        return [GateVisit.model_validate(doc) async for doc in cursor]


def _document(visit: GateVisit) -> Document:
    return to_document(visit, _id=str(visit.visit_id), unpublished=True)
