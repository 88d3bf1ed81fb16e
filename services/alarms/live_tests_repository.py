"""Persistence of live-test windows (collection `live_tests`); a fake with the same behaviour
is in tests/fakes, held to this one by tests/contracts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.alarms.live_tests import LONGEST_WINDOW as LONGEST
from services.alarms.live_tests import Attempt, LiveTest
from shared.mongo import Document, bson_value, to_document


class LiveTestRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def create(self, test: LiveTest) -> LiveTest:
        """Store the window; if its test_id is taken, the stored one."""
        ...

    async def get(self, test_id: uuid.UUID) -> LiveTest | None: ...

    async def add_attempt(self, test_id: uuid.UUID, attempt: Attempt) -> None:
        """Once per (device, moment): the same report again changes nothing."""
        ...

    async def overlapping(self, since: datetime, until: datetime) -> list[LiveTest]:
        """Windows that start before `until` and end at or after `since`, earliest first."""
        ...


class MongoLiveTestRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tests = db["live_tests"]

    async def ensure_indexes(self) -> None:
        await self._tests.create_index([("starts_at", ASCENDING)])

    async def create(self, test: LiveTest) -> LiveTest:
        try:
            await self._tests.insert_one(to_document(test, _id=str(test.test_id)))
        except DuplicateKeyError:
            stored = await self.get(test.test_id)
            if stored is None:
                raise
            return stored
        return test

    async def get(self, test_id: uuid.UUID) -> LiveTest | None:
        doc = await self._tests.find_one({"_id": str(test_id)})
        return LiveTest.model_validate(doc) if doc else None

    async def add_attempt(self, test_id: uuid.UUID, attempt: Attempt) -> None:
        await self._tests.update_one(
            {"_id": str(test_id)}, {"$addToSet": {"attempts": bson_value(attempt)}}
        )

    async def overlapping(self, since: datetime, until: datetime) -> list[LiveTest]:
        """Windows are at most a day long: the index range starts a day before `since`."""
        cursor = self._tests.find({"starts_at": {"$gte": since - LONGEST, "$lt": until}}).sort(
            "starts_at", ASCENDING
        )
        return [
            test async for doc in cursor if (test := LiveTest.model_validate(doc)).ends_at >= since
        ]
