"""Persistence of guard posts: the calendar (in `settings`), the `roster` and the judged
`post_windows`."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.patrols.guardposts import Calendar, RosterEntry
from services.patrols.models import PostWindowRecord
from shared.mongo import Document, to_document


class GuardPostsRepository(Protocol):
    async def calendar(self) -> Calendar: ...

    async def save_calendar(self, calendar: Calendar) -> None: ...

    async def add_roster_entry(self, entry: RosterEntry) -> str: ...

    async def roster(self, *, unit_id: str | None = None) -> list[tuple[str, RosterEntry]]: ...

    async def post_window(self, key: str) -> PostWindowRecord | None: ...

    async def save_post_window(self, record: PostWindowRecord) -> None: ...

    async def post_windows_on(self, day: date) -> list[PostWindowRecord]: ...


class MongoGuardPosts:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._settings = db["settings"]
        self._roster = db["roster"]
        self._post_windows = db["post_windows"]

    async def ensure_indexes(self) -> None:
        await self._roster.create_index("unit_id")
        await self._post_windows.create_index("day")

    async def calendar(self) -> Calendar:
        doc = await self._settings.find_one({"_id": "calendar"})
        return Calendar.model_validate(doc["calendar"]) if doc else Calendar()

    async def save_calendar(self, calendar: Calendar) -> None:
        await self._settings.replace_one(
            # an opaque settings blob (times of day, dates as keys): JSON is its natural form
            {"_id": "calendar"},
            {"calendar": calendar.model_dump(mode="json")},
            upsert=True,
        )

    async def add_roster_entry(self, entry: RosterEntry) -> str:
        entry_id = f"{entry.unit_id}:{entry.post_id}:{entry.valid_from}"
        doc = to_document(entry, _id=entry_id)
        await self._roster.replace_one({"_id": entry_id}, doc, upsert=True)
        return entry_id

    async def roster(self, *, unit_id: str | None = None) -> list[tuple[str, RosterEntry]]:
        cursor = self._roster.find({"unit_id": unit_id} if unit_id else {})
        return [(doc.pop("_id"), RosterEntry.model_validate(doc)) async for doc in cursor]

    async def post_window(self, key: str) -> PostWindowRecord | None:
        doc = await self._post_windows.find_one({"_id": key})
        return PostWindowRecord.model_validate(doc) if doc else None

    async def save_post_window(self, record: PostWindowRecord) -> None:
        doc = to_document(record, _id=record.key)
        await self._post_windows.replace_one({"_id": record.key}, doc, upsert=True)

    async def post_windows_on(self, day: date) -> list[PostWindowRecord]:
        cursor = self._post_windows.find({"day": day.isoformat()}).sort("window_start", ASCENDING)
        return [PostWindowRecord.model_validate(doc) async for doc in cursor]
