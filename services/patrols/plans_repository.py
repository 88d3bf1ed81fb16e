"""Persistence of school plans: `school_plans`, one document per school and version (the
version in the `_id`, so two edits of the same version cannot both be written). A version is
`unpublished` until its event is on the broker."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.patrols.plans import SchoolPlan
from shared.mongo import Document, to_document


class PlansRepository(Protocol):
    async def insert_plan(self, plan: SchoolPlan) -> bool: ...

    async def plan(self, school_id: str, version: int | None = None) -> SchoolPlan | None: ...

    async def plan_versions(self, school_id: str) -> list[SchoolPlan]: ...

    async def plan_published(self, school_id: str, version: int) -> None: ...

    async def unpublished_plans(self, *, before: datetime) -> list[SchoolPlan]: ...


def plan_key(school_id: str, version: int) -> str:
    return f"{school_id}:{version}"


class MongoPlans:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._plans = db["school_plans"]

    async def ensure_indexes(self) -> None:
        await self._plans.create_index([("school_id", ASCENDING), ("version", DESCENDING)])
        await self._plans.create_index("unpublished", sparse=True)

    async def insert_plan(self, plan: SchoolPlan) -> bool:
        """False when that version of the school's plan is taken."""
        doc = to_document(plan, _id=plan_key(plan.school_id, plan.version), unpublished=True)
        try:
            await self._plans.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def plan(self, school_id: str, version: int | None = None) -> SchoolPlan | None:
        """That version, or the newest."""
        if version is not None:
            doc = await self._plans.find_one({"_id": plan_key(school_id, version)})
        else:
            doc = await self._plans.find_one({"school_id": school_id}, sort=[("version", -1)])
        return SchoolPlan.model_validate(doc) if doc else None

    async def plan_versions(self, school_id: str) -> list[SchoolPlan]:
        cursor = self._plans.find({"school_id": school_id}).sort("version", ASCENDING)
        return [SchoolPlan.model_validate(doc) async for doc in cursor]

    async def plan_published(self, school_id: str, version: int) -> None:
        await self._plans.update_one(
            {"_id": plan_key(school_id, version)}, {"$unset": {"unpublished": ""}}
        )

    async def unpublished_plans(self, *, before: datetime) -> list[SchoolPlan]:
        cursor = self._plans.find({"unpublished": True, "edited_at": {"$lt": before}})
        return [SchoolPlan.model_validate(doc) async for doc in cursor.sort("version", ASCENDING)]
