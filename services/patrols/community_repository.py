"""Persistence of community checks: `community_checks` (one document per check, marked
`unpublished` until its event is on the broker) and `person_reads`, the audit of every read of
people's records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.patrols.community import CommunityCheck, PersonRead
from shared.mongo import Document, to_document


class CommunityRepository(Protocol):
    async def insert_check(self, check: CommunityCheck) -> bool: ...

    async def check(self, check_id: uuid.UUID) -> CommunityCheck | None: ...

    async def checks(
        self, *, school_ids: list[str] | None, since: datetime | None, limit: int
    ) -> list[CommunityCheck]: ...

    async def checks_with_person(self, id_hash: str) -> list[CommunityCheck]: ...

    async def check_published(self, check_id: uuid.UUID) -> None: ...

    async def unpublished_checks(self, *, before: datetime) -> list[CommunityCheck]: ...

    async def checks_to_erase(self, *, before: datetime, limit: int) -> list[CommunityCheck]: ...

    async def erase_people(self, check: CommunityCheck) -> None: ...

    async def audit_read(self, read: PersonRead) -> None: ...

    async def person_reads(
        self, *, since: datetime | None, actor: str | None, limit: int
    ) -> list[PersonRead]: ...


class MongoCommunity:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._checks = db["community_checks"]
        self._reads = db["person_reads"]

    async def ensure_indexes(self) -> None:
        await self._checks.create_index([("checked_at", DESCENDING)])
        await self._checks.create_index([("school.school_id", ASCENDING)])
        await self._checks.create_index("people.id_hash", sparse=True)
        await self._checks.create_index("unpublished", sparse=True)
        await self._reads.create_index([("at", DESCENDING)])

    async def insert_check(self, check: CommunityCheck) -> bool:
        """False when a check with that id is stored already."""
        doc = to_document(check, _id=str(check.check_id), unpublished=True)
        try:
            await self._checks.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def check(self, check_id: uuid.UUID) -> CommunityCheck | None:
        doc = await self._checks.find_one({"_id": str(check_id)})
        return CommunityCheck.model_validate(doc) if doc else None

    async def checks(
        self, *, school_ids: list[str] | None, since: datetime | None, limit: int
    ) -> list[CommunityCheck]:
        query: Document = {}
        if school_ids is not None:
            query["school.school_id"] = {"$in": school_ids}
        if since is not None:
            query["checked_at"] = {"$gte": since}
        cursor = self._checks.find(query).sort("checked_at", DESCENDING).limit(limit)
        return [CommunityCheck.model_validate(doc) async for doc in cursor]

    async def checks_with_person(self, id_hash: str) -> list[CommunityCheck]:
        cursor = self._checks.find({"people.id_hash": id_hash}).sort("checked_at", DESCENDING)
        return [CommunityCheck.model_validate(doc) async for doc in cursor]

    async def check_published(self, check_id: uuid.UUID) -> None:
        await self._checks.update_one({"_id": str(check_id)}, {"$unset": {"unpublished": ""}})

    async def unpublished_checks(self, *, before: datetime) -> list[CommunityCheck]:
        cursor = self._checks.find({"unpublished": True, "checked_at": {"$lt": before}})
        return [CommunityCheck.model_validate(doc) async for doc in cursor]

    async def checks_to_erase(self, *, before: datetime, limit: int) -> list[CommunityCheck]:
        """Checks older than `before` whose people still have personal fields."""
        query = {"checked_at": {"$lt": before}, "erased_at": None}
        cursor = self._checks.find(query).sort("checked_at", ASCENDING).limit(limit)
        return [CommunityCheck.model_validate(doc) async for doc in cursor]

    async def erase_people(self, check: CommunityCheck) -> None:
        """The check's people replaced by their erased form (`check` is that already)."""
        people = [to_document(p) for p in check.people]
        await self._checks.update_one(
            {"_id": str(check.check_id)},
            {"$set": {"people": people, "erased_at": check.erased_at}},
        )

    async def audit_read(self, read: PersonRead) -> None:
        await self._reads.insert_one(to_document(read, _id=str(read.read_id)))

    async def person_reads(
        self, *, since: datetime | None, actor: str | None, limit: int
    ) -> list[PersonRead]:
        query: Document = {}
        if since is not None:
            query["at"] = {"$gte": since}
        if actor is not None:
            query["actor"] = actor
        cursor = self._reads.find(query).sort("at", DESCENDING).limit(limit)
        return [PersonRead.model_validate(doc) async for doc in cursor]
