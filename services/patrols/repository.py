"""Persistence of unit state and position history: MongoDB, and a fake for unit tests.

History is kept in buckets of fixes (services.patrols.history): one document per unit,
minute and consumed batch, `_id` the key of its first fix, so one unique index serves every
history query as a key range. Secondary indexes cost inserts dearly on the embedded server
(docs/benchmarks.md), so there is none, and retention is a periodic range delete per unit
instead of a TTL index. Units keep their latest fix without a geo index: nothing queries it
(notifications ranks units on its own board), and on the embedded server its upkeep cost more
than any other write.

The other subjects keep their own parts beside this file (visits_repository,
enforcement_repository, guard_posts_repository, plans_repository, hazards_repository,
community_repository, visitors_repository, visibility_repository);
MongoPatrolRepository is all of them over one database.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.patrols import history
from services.patrols.community_repository import CommunityRepository, MongoCommunity
from services.patrols.enforcement_repository import EnforcementRepository, MongoEnforcement
from services.patrols.guard_posts_repository import GuardPostsRepository, MongoGuardPosts
from services.patrols.hazards_repository import HazardsRepository, MongoHazards
from services.patrols.models import StoredFix, UnitState
from services.patrols.plans_repository import MongoPlans, PlansRepository
from services.patrols.visibility_repository import MongoVisibility, VisibilityRepository
from services.patrols.visitors_repository import MongoVisitors, VisitorsRepository
from services.patrols.visits import Box, Sighting, Span
from services.patrols.visits_repository import MongoVisits, VisitsRepository
from shared.events import PositionReported, UnitStatusChanged, newest_per_unit
from shared.mongo import Document, duplicate_indexes, move_forward, pull_from_outbox, to_document
from shared.provisioning import Unit


class PositionsRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def provision_units(self, units: list[Unit]) -> None: ...

    async def record_positions(self, fixes: list[PositionReported]) -> int: ...

    async def history(
        self, unit_id: str, *, since: datetime, until: datetime
    ) -> list[StoredFix]: ...

    async def get_unit(self, unit_id: str) -> UnitState | None: ...

    async def move_units(self, fixes: list[PositionReported]) -> None: ...

    async def newest_in_history(self, unit_ids: list[str]) -> list[PositionReported]: ...

    async def fixes_in_box(self, box: Box, units: list[str], span: Span) -> list[Sighting]: ...

    async def prune_history(self, *, unit_ids: list[str], before: datetime) -> int: ...

    async def set_status(self, unit: UnitState, event: UnitStatusChanged) -> bool: ...

    async def pull_status_event(self, unit_id: str, event_id: uuid.UUID) -> None: ...

    async def units_with_outbox(self) -> list[UnitState]: ...


class PatrolRepository(
    PositionsRepository,
    VisitsRepository,
    EnforcementRepository,
    GuardPostsRepository,
    PlansRepository,
    HazardsRepository,
    CommunityRepository,
    VisitorsRepository,
    VisibilityRepository,
    Protocol,
):
    """Everything patrols stores."""


class MongoPositions:
    """`units` (_id unit_id, latest fix, status and its outbox) and `positions` (buckets:
    services.patrols.history)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._units = db["units"]
        self._positions = db["positions"]

    async def ensure_indexes(self) -> None:
        return None  # history is keyed by its _id; units are read by _id only

    async def provision_units(self, units: list[Unit]) -> None:
        await self._units.bulk_write(
            [
                UpdateOne(
                    {"_id": unit.unit_id},
                    {
                        "$set": {
                            "unit_id": unit.unit_id,
                            "kind": unit.kind,
                            "callsign": unit.callsign,
                        }
                    },
                    upsert=True,
                )
                for unit in units
            ]
        )

    async def record_positions(self, fixes: list[PositionReported]) -> int:
        """History in buckets (services.patrols.history); returns the fixes stored. A bucket
        whose `_id` is taken (a redelivered batch) is stored again as what is not held yet."""
        stored = 0
        pending = history.buckets(fixes)
        while pending:
            taken = await duplicate_indexes(self._positions.insert_many(pending, ordered=False))
            stored += sum(history.fix_count(b) for i, b in enumerate(pending) if i not in taken)
            pending = [rest for i in sorted(taken) if (rest := await self._rest(pending[i]))]
        return stored

    async def _rest(self, bucket: Document) -> Document | None:
        held = await self._positions.find_one({"_id": bucket["_id"]})
        if held is None:
            raise RuntimeError(f"history bucket {bucket['_id']} refused as taken, yet not found")
        return history.remainder(bucket, held)

    async def move_units(self, fixes: list[PositionReported]) -> None:
        """Each unit to its newest fix, unless it holds a newer one."""
        if not fixes:
            return
        moves = [move_forward(fix) for fix in newest_per_unit(fixes)]
        await self._units.bulk_write(moves, ordered=False)

    async def newest_in_history(self, unit_ids: list[str]) -> list[PositionReported]:
        """Each unit's newest stored fix: its newest bucket, then every bucket of that minute
        (two buckets of one minute may overlap in time)."""
        found = []
        for unit_id in unit_ids:
            last = await self._positions.find_one(
                {"_id": history.key_range(unit_id, None, None)}, sort=[("_id", DESCENDING)]
            )
            if last is None:
                continue
            first = history.from_micros(history.fixes_of(last)[0]["t"])
            newest = (await self._fixes(unit_id, since=first, until=None))[-1]
            found.append(
                PositionReported(
                    unit_id=unit_id, lat=newest.lat, lon=newest.lon, recorded_at=newest.recorded_at
                )
            )
        return found

    async def _fixes(
        self, unit_id: str, *, since: datetime, until: datetime | None
    ) -> list[StoredFix]:
        """The unit's fixes in [since, until), oldest first, each once."""
        cursor = self._positions.find({"_id": history.key_range(unit_id, since, until)})
        docs = [doc async for doc in cursor.sort("_id", ASCENDING)]
        return history.stored_fixes(docs, since=since, until=until)

    async def history(self, unit_id: str, *, since: datetime, until: datetime) -> list[StoredFix]:
        return await self._fixes(unit_id, since=since, until=until)

    async def get_unit(self, unit_id: str) -> UnitState | None:
        doc = await self._units.find_one({"_id": unit_id})
        return UnitState.model_validate(doc) if doc else None

    async def fixes_in_box(self, box: Box, units: list[str], span: Span) -> list[Sighting]:
        """The units' fixes in the span inside the box (a key range per unit)."""
        since, until = span
        found: list[Sighting] = []
        for unit_id in units:
            found += [
                (unit_id, fix.recorded_at, fix.lat, fix.lon)
                for fix in await self._fixes(unit_id, since=since, until=until)
                if box.holds(fix.lat, fix.lon)
            ]
        return found

    async def prune_history(self, *, unit_ids: list[str], before: datetime) -> int:
        """Delete the units' buckets of the minutes that ended by `before` (the retention
        policy; the rest of `before`'s own minute waits for the next round). Returns the fixes
        deleted."""
        deleted = 0
        for unit_id in unit_ids:
            old = {"_id": history.key_range(unit_id, None, history.slot_start(before))}
            deleted += sum([history.fix_count(doc) async for doc in self._positions.find(old)])
            await self._positions.delete_many(old)
        return deleted

    async def set_status(self, unit: UnitState, event: UnitStatusChanged) -> bool:
        """Compare-and-set on status_version; the event goes into the unit's outbox in the
        same write. False if the unit changed meanwhile."""
        version: Document | int = (
            {"$in": [0, None]} if unit.status_version == 0 else unit.status_version
        )
        result = await self._units.update_one(
            {"_id": unit.unit_id, "status_version": version},
            {
                "$set": {
                    "status": event.status,
                    "status_since": event.occurred_at,
                    "status_version": event.version,
                },
                "$push": {"outbox": to_document(event)},
            },
        )
        return result.modified_count == 1

    async def pull_status_event(self, unit_id: str, event_id: uuid.UUID) -> None:
        await pull_from_outbox(self._units, unit_id, str(event_id))

    async def units_with_outbox(self) -> list[UnitState]:
        cursor = self._units.find({"outbox.0": {"$exists": True}})
        return [UnitState.model_validate(doc) async for doc in cursor]


class MongoPatrolRepository(
    MongoPositions,
    MongoVisits,
    MongoEnforcement,
    MongoGuardPosts,
    MongoPlans,
    MongoHazards,
    MongoCommunity,
    MongoVisitors,
    MongoVisibility,
):
    """Every part of patrols' persistence over one database."""

    PARTS = (
        MongoPositions,
        MongoVisits,
        MongoEnforcement,
        MongoGuardPosts,
        MongoPlans,
        MongoHazards,
        MongoCommunity,
        MongoVisitors,
        MongoVisibility,
    )

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        for part in self.PARTS:
            part.__init__(self, db)

    async def ensure_indexes(self) -> None:
        for part in self.PARTS:
            await part.ensure_indexes(self)
