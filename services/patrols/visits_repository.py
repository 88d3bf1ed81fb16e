"""Persistence of live visits: `visit_tracks`, one document per unit (its newest fix, its
open visits), so a restart or a rebalance resumes them."""

from __future__ import annotations

from typing import Protocol

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.patrols.history import from_micros, micros
from services.patrols.tracker import OpenVisit, UnitTrack
from shared.mongo import Document


class VisitsRepository(Protocol):
    async def load_tracks(self, unit_ids: list[str]) -> dict[str, UnitTrack]: ...

    async def save_tracks(self, tracks: dict[str, UnitTrack]) -> None: ...


def track_document(track: UnitTrack) -> Document:
    return {
        "watermark": None if track.watermark is None else micros(track.watermark),
        "open": [
            {
                "point_id": v.point_id,
                "arrived_at": micros(v.arrived_at),
                "last_seen": micros(v.last_seen),
                "fixes": v.fixes,
            }
            for v in track.open.values()
        ],
    }


def track_from_document(doc: Document) -> UnitTrack:
    watermark = doc.get("watermark")
    return UnitTrack(
        watermark=None if watermark is None else from_micros(watermark),
        open={
            v["point_id"]: OpenVisit(
                v["point_id"],
                from_micros(v["arrived_at"]),
                from_micros(v["last_seen"]),
                v["fixes"],
            )
            for v in doc.get("open", [])
        },
    )


class MongoVisits:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tracks = db["visit_tracks"]

    async def ensure_indexes(self) -> None:
        return None

    async def load_tracks(self, unit_ids: list[str]) -> dict[str, UnitTrack]:
        """`visit_tracks`: one document per unit (its newest fix, its open visits)."""
        cursor = self._tracks.find({"_id": {"$in": unit_ids}})
        return {doc["_id"]: track_from_document(doc) async for doc in cursor}

    async def save_tracks(self, tracks: dict[str, UnitTrack]) -> None:
        if tracks:
            await self._tracks.bulk_write(
                [
                    UpdateOne({"_id": unit_id}, {"$set": track_document(track)}, upsert=True)
                    for unit_id, track in tracks.items()
                ],
                ordered=False,
            )
