"""Persistence of police visibility: `school_windows`, one document per school and window
(`_id` school|window start: worked out once), marked `unpublished` until on the broker."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events import SchoolWindowPatrolled
from shared.mongo import Document, to_document


class VisibilityRepository(Protocol):
    async def visibility_keys(self, *, window_start: datetime) -> set[str]: ...

    async def insert_visibility(self, key: str, event: SchoolWindowPatrolled) -> bool: ...

    async def visibility_published(self, key: str) -> None: ...

    async def unpublished_visibility(self, *, before: datetime) -> list[SchoolWindowPatrolled]: ...


class MongoVisibility:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._windows = db["school_windows"]

    async def ensure_indexes(self) -> None:
        await self._windows.create_index("window_start")
        await self._windows.create_index("unpublished", sparse=True)

    async def visibility_keys(self, *, window_start: datetime) -> set[str]:
        """The schools whose window starting then is worked out already."""
        query = {"window_start": window_start}
        return {
            doc["school"]["school_id"] async for doc in self._windows.find(query, {"school": 1})
        }

    async def insert_visibility(self, key: str, event: SchoolWindowPatrolled) -> bool:
        """False when that school's window is stored already (another instance, a retry)."""
        doc = to_document(event, _id=key, unpublished=True)
        try:
            await self._windows.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def visibility_published(self, key: str) -> None:
        await self._windows.update_one({"_id": key}, {"$unset": {"unpublished": ""}})

    async def unpublished_visibility(self, *, before: datetime) -> list[SchoolWindowPatrolled]:
        cursor = self._windows.find({"unpublished": True, "occurred_at": {"$lt": before}})
        return [SchoolWindowPatrolled.model_validate(doc) async for doc in cursor]
