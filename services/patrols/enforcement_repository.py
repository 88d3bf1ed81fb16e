"""Persistence of enforcement: `campaigns`, `violations` (once per violation_id) and
`checkins` (once per checkin_id)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.patrols.violations import Campaign, ViolationFilter
from shared.events import CheckinRecorded, ViolationRecorded
from shared.mongo import Document, to_document


class EnforcementRepository(Protocol):
    async def add_campaign(self, campaign: Campaign) -> bool: ...

    async def campaign(self, campaign_id: str) -> Campaign | None: ...

    async def campaigns(self) -> list[Campaign]: ...

    async def store_violation(self, event: ViolationRecorded) -> None: ...

    async def violations(self, query: ViolationFilter) -> list[ViolationRecorded]: ...

    async def store_checkin(self, event: CheckinRecorded) -> None: ...

    async def checkins(
        self, point_id: str, *, since: datetime, until: datetime
    ) -> list[CheckinRecorded]: ...


class MongoEnforcement:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._campaigns = db["campaigns"]
        self._violations = db["violations"]
        self._checkins = db["checkins"]

    async def ensure_indexes(self) -> None:
        await self._violations.create_index(
            [("campaign.campaign_id", ASCENDING), ("observed_at", ASCENDING)]
        )
        await self._violations.create_index([("observed_at", DESCENDING)])
        await self._checkins.create_index([("point_id", ASCENDING), ("at", ASCENDING)])

    async def add_campaign(self, campaign: Campaign) -> bool:
        doc = to_document(campaign, _id=campaign.campaign_id)
        try:
            await self._campaigns.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def campaign(self, campaign_id: str) -> Campaign | None:
        doc = await self._campaigns.find_one({"_id": campaign_id})
        return Campaign.model_validate(doc) if doc else None

    async def campaigns(self) -> list[Campaign]:
        cursor = self._campaigns.find({}).sort("starts_on", DESCENDING)
        return [Campaign.model_validate(doc) async for doc in cursor]

    async def store_violation(self, event: ViolationRecorded) -> None:
        """Once per violation_id: a redelivery or a resent request changes nothing."""
        doc = to_document(event, _id=str(event.violation_id))
        await self._violations.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)

    async def violations(self, query: ViolationFilter) -> list[ViolationRecorded]:
        cursor = (
            self._violations.find(query.conditions())
            .sort("observed_at", DESCENDING)
            .limit(query.limit)
        )
        return [ViolationRecorded.model_validate(doc) async for doc in cursor]

    async def store_checkin(self, event: CheckinRecorded) -> None:
        doc = to_document(event, _id=str(event.checkin_id))
        await self._checkins.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)

    async def checkins(
        self, point_id: str, *, since: datetime, until: datetime
    ) -> list[CheckinRecorded]:
        cursor = self._checkins.find(
            {"point_id": point_id, "at": {"$gte": since, "$lt": until}}
        ).sort("at", ASCENDING)
        return [CheckinRecorded.model_validate(doc) async for doc in cursor]
