"""Persistence of unit state and position history: MongoDB, and a fake for unit tests."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, GEOSPHERE
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.patrols.models import UnitState
from shared.events import PositionReported
from shared.geo import geojson_point
from shared.mongo import Document
from shared.provisioning import Unit


class PatrolRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def provision_units(self, units: list[Unit]) -> None: ...

    async def record_position(self, fix: PositionReported) -> bool: ...

    async def get_unit(self, unit_id: str) -> UnitState | None: ...


class MongoPatrolRepository:
    """Collections `units` (_id unit_id, latest fix, 2dsphere) and `positions` (_id event_id)."""

    def __init__(self, db: AsyncDatabase[Document], *, history_days: int = 30) -> None:
        self._units = db["units"]
        self._positions = db["positions"]
        self._history_s = history_days * 86400

    async def ensure_indexes(self) -> None:
        await self._units.create_index([("loc", GEOSPHERE)])
        await self._positions.create_index([("unit_id", ASCENDING), ("recorded_at", ASCENDING)])
        await self._positions.create_index("stored_at", expireAfterSeconds=self._history_s)

    async def provision_units(self, units: list[Unit]) -> None:
        for unit in units:
            await self._units.update_one(
                {"_id": unit.unit_id},
                {"$set": {"unit_id": unit.unit_id, "kind": unit.kind, "callsign": unit.callsign}},
                upsert=True,
            )

    async def record_position(self, fix: PositionReported) -> bool:
        """Keep the fix in history once; move the unit only if the fix is its newest."""
        try:
            await self._positions.insert_one(
                {
                    "_id": str(fix.event_id),
                    "unit_id": fix.unit_id,
                    "loc": geojson_point(fix.lat, fix.lon),
                    "recorded_at": fix.recorded_at,
                    "stored_at": datetime.now(fix.recorded_at.tzinfo),
                }
            )
        except DuplicateKeyError:
            return False
        await self._units.update_one(
            {
                "_id": fix.unit_id,
                "$or": [
                    {"recorded_at": {"$lt": fix.recorded_at}},
                    {"recorded_at": {"$exists": False}},
                ],
            },
            {
                "$set": {
                    "lat": fix.lat,
                    "lon": fix.lon,
                    "loc": geojson_point(fix.lat, fix.lon),
                    "recorded_at": fix.recorded_at,
                }
            },
        )
        return True

    async def get_unit(self, unit_id: str) -> UnitState | None:
        doc = await self._units.find_one({"_id": unit_id})
        return UnitState.model_validate(doc) if doc else None


class InMemoryPatrolRepository:
    def __init__(self) -> None:
        self.units: dict[str, UnitState] = {}
        self.positions: dict[str, PositionReported] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def provision_units(self, units: list[Unit]) -> None:
        for unit in units:
            self.units.setdefault(
                unit.unit_id,
                UnitState(unit_id=unit.unit_id, kind=unit.kind, callsign=unit.callsign),
            )

    async def record_position(self, fix: PositionReported) -> bool:
        if str(fix.event_id) in self.positions:
            return False
        self.positions[str(fix.event_id)] = fix
        unit = self.units.get(fix.unit_id)
        if unit is None:
            return True
        if unit.recorded_at is None or unit.recorded_at < fix.recorded_at:
            self.units[fix.unit_id] = unit.model_copy(
                update={"lat": fix.lat, "lon": fix.lon, "recorded_at": fix.recorded_at}
            )
        return True

    async def get_unit(self, unit_id: str) -> UnitState | None:
        return self.units.get(unit_id)
