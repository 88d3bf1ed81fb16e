"""Persistence of unit state and position history: MongoDB, and a fake for unit tests.

History is kept in buckets of fixes (services.patrols.history): one document per unit,
minute and consumed batch, `_id` the key of its first fix, so one unique index serves every
history query as a key range. Each secondary index halved insert throughput on the embedded
server (docs/benchmarks.md), so there is none, and retention is a periodic range delete per unit
instead of a TTL index. Units keep their latest fix without a geo index: nothing queries it
(notifications ranks units on its own board), and on the embedded server its upkeep cost more
than any other write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.patrols import history
from services.patrols.guardposts import Calendar, RosterEntry
from services.patrols.history import from_micros, micros
from services.patrols.models import PostWindowRecord, StoredFix, UnitState
from services.patrols.tracker import OpenVisit, UnitTrack
from services.patrols.violations import Campaign
from shared.events import (
    CheckinRecorded,
    PositionReported,
    UnitStatusChanged,
    ViolationRecorded,
    newest_per_unit,
)
from shared.mongo import (
    Document,
    duplicate_indexes,
    pull_from_outbox,
    to_document,
)
from shared.provisioning import Unit


class PatrolRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def provision_units(self, units: list[Unit]) -> None: ...

    async def record_positions(self, fixes: list[PositionReported]) -> int: ...

    async def history(
        self, unit_id: str, *, since: datetime, until: datetime
    ) -> list[StoredFix]: ...

    async def get_unit(self, unit_id: str) -> UnitState | None: ...

    async def move_units(self, fixes: list[PositionReported]) -> None: ...

    async def newest_in_history(self, unit_ids: list[str]) -> list[PositionReported]: ...

    async def fixes_in_box(
        self,
        box: tuple[float, float, float, float],
        *,
        unit_ids: list[str],
        since: datetime,
        until: datetime,
    ) -> list[tuple[str, datetime, float, float]]: ...

    async def prune_history(self, *, unit_ids: list[str], before: datetime) -> int: ...

    async def set_status(self, unit: UnitState, event: UnitStatusChanged) -> bool: ...

    async def pull_status_event(self, unit_id: str, event_id: uuid.UUID) -> None: ...

    async def units_with_outbox(self) -> list[UnitState]: ...

    async def add_campaign(self, campaign: Campaign) -> bool: ...

    async def campaign(self, campaign_id: str) -> Campaign | None: ...

    async def campaigns(self) -> list[Campaign]: ...

    async def store_violation(self, event: ViolationRecorded) -> None: ...

    async def store_checkin(self, event: CheckinRecorded) -> None: ...

    async def calendar(self) -> Calendar: ...

    async def save_calendar(self, calendar: Calendar) -> None: ...

    async def add_roster_entry(self, entry: RosterEntry) -> str: ...

    async def roster(self, *, unit_id: str | None = None) -> list[tuple[str, RosterEntry]]: ...

    async def post_window(self, key: str) -> PostWindowRecord | None: ...

    async def save_post_window(self, record: PostWindowRecord) -> None: ...

    async def post_windows_on(self, day: date) -> list[PostWindowRecord]: ...

    async def checkins(
        self, point_id: str, *, since: datetime, until: datetime
    ) -> list[CheckinRecorded]: ...

    async def violations(self, query: ViolationFilter) -> list[ViolationRecorded]: ...

    async def load_tracks(self, unit_ids: list[str]) -> dict[str, UnitTrack]: ...

    async def save_tracks(self, tracks: dict[str, UnitTrack]) -> None: ...


@dataclass(frozen=True)
class ViolationFilter:
    campaign_id: str | None = None
    kind: str | None = None
    school_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 500

    def matches(self, v: ViolationRecorded) -> bool:
        return (
            (
                self.campaign_id is None
                or (v.campaign is not None and v.campaign.campaign_id == self.campaign_id)
            )
            and (self.kind is None or v.kind == self.kind)
            and (self.school_id is None or v.school_id == self.school_id)
            and (self.since is None or v.observed_at >= self.since)
            and (self.until is None or v.observed_at < self.until)
        )

    def mongo(self) -> Document:
        query: Document = {}
        if self.campaign_id:
            query["campaign.campaign_id"] = self.campaign_id
        if self.kind:
            query["kind"] = self.kind
        if self.school_id:
            query["school_id"] = self.school_id
        window: Document = {}
        if self.since:
            window["$gte"] = self.since
        if self.until:
            window["$lt"] = self.until
        if window:
            query["observed_at"] = window
        return query


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _fix_fields(fix: PositionReported) -> Document:
    return {
        "lat": fix.lat,
        "lon": fix.lon,
        "speed_kmh": fix.speed_kmh,
        "heading_deg": fix.heading_deg,
        "accuracy_m": fix.accuracy_m,
    }


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


class MongoPatrolRepository:
    """`units` (_id unit_id, latest fix) and `positions` (buckets: services.patrols.history)."""

    LEGACY_HISTORY_INDEXES = ("unit_id_1_recorded_at_1", "recorded_at_1")
    LEGACY_UNIT_INDEX = "loc_2dsphere"  # nothing queried it; its upkeep was the dearest write

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._units = db["units"]
        self._positions = db["positions"]
        self._campaigns = db["campaigns"]
        self._violations = db["violations"]
        self._checkins = db["checkins"]
        self._settings = db["settings"]
        self._roster = db["roster"]
        self._post_windows = db["post_windows"]
        self._tracks = db["visit_tracks"]

    async def ensure_indexes(self) -> None:
        if self.LEGACY_UNIT_INDEX in await self._units.index_information():
            await self._units.drop_index(self.LEGACY_UNIT_INDEX)
        existing = await self._positions.index_information()
        for name in self.LEGACY_HISTORY_INDEXES:  # from before history keys (each cost inserts)
            if name in existing:
                await self._positions.drop_index(name)
        await self._violations.create_index(
            [("campaign.campaign_id", ASCENDING), ("observed_at", ASCENDING)]
        )
        await self._violations.create_index([("observed_at", DESCENDING)])
        await self._checkins.create_index([("point_id", ASCENDING), ("at", ASCENDING)])
        await self._roster.create_index("unit_id")
        await self._post_windows.create_index("day")

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
        """Each unit to its newest fix, unless it holds a newer one. The filter names the
        `_id` and nothing in an `$or`: SecantusDB scans the collection for an `$or`."""
        if not fixes:
            return
        await self._units.bulk_write(
            [
                UpdateOne(
                    {"_id": fix.unit_id, "recorded_at": {"$not": {"$gte": fix.recorded_at}}},
                    {
                        "$set": {
                            "lat": fix.lat,
                            "lon": fix.lon,
                            "recorded_at": fix.recorded_at,
                        }
                    },
                )
                for fix in newest_per_unit(fixes)
            ],
            ordered=False,
        )

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

    async def fixes_in_box(
        self,
        box: tuple[float, float, float, float],
        *,
        unit_ids: list[str],
        since: datetime,
        until: datetime,
    ) -> list[tuple[str, datetime, float, float]]:
        """The units' fixes in [since, until) inside a lat/lon box (a key range per unit)."""
        min_lat, max_lat, min_lon, max_lon = box
        found: list[tuple[str, datetime, float, float]] = []
        for unit_id in unit_ids:
            found += [
                (unit_id, fix.recorded_at, fix.lat, fix.lon)
                for fix in await self._fixes(unit_id, since=since, until=until)
                if min_lat <= fix.lat <= max_lat and min_lon <= fix.lon <= max_lon
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

    async def store_checkin(self, event: CheckinRecorded) -> None:
        doc = to_document(event, _id=str(event.checkin_id))
        await self._checkins.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)

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

    async def checkins(
        self, point_id: str, *, since: datetime, until: datetime
    ) -> list[CheckinRecorded]:
        cursor = self._checkins.find(
            {"point_id": point_id, "at": {"$gte": since, "$lt": until}}
        ).sort("at", ASCENDING)
        return [CheckinRecorded.model_validate(doc) async for doc in cursor]

    async def violations(self, query: ViolationFilter) -> list[ViolationRecorded]:
        cursor = (
            self._violations.find(query.mongo()).sort("observed_at", DESCENDING).limit(query.limit)
        )
        return [ViolationRecorded.model_validate(doc) async for doc in cursor]


class InMemoryPatrolRepository:
    def __init__(self) -> None:
        self.units: dict[str, UnitState] = {}
        self.fixes: dict[tuple[str, int], PositionReported] = {}
        self.campaign_records: dict[str, Campaign] = {}
        self.violation_records: dict[uuid.UUID, ViolationRecorded] = {}
        self.checkin_records: dict[uuid.UUID, CheckinRecorded] = {}
        self.calendar_record = Calendar()
        self.roster_records: dict[str, RosterEntry] = {}
        self.post_window_records: dict[str, PostWindowRecord] = {}
        self.tracks: dict[str, UnitTrack] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def provision_units(self, units: list[Unit]) -> None:
        for unit in units:
            self.units.setdefault(
                unit.unit_id,
                UnitState(unit_id=unit.unit_id, kind=unit.kind, callsign=unit.callsign),
            )

    async def record_positions(self, fixes: list[PositionReported]) -> int:
        new = {(f.unit_id, _epoch_ms(f.recorded_at)): f for f in fixes}.keys() - self.fixes.keys()
        for fix in fixes:
            self.fixes[(fix.unit_id, _epoch_ms(fix.recorded_at))] = fix
        return len(new)

    async def move_units(self, fixes: list[PositionReported]) -> None:
        for fix in newest_per_unit(fixes):
            unit = self.units.get(fix.unit_id)
            if unit is not None and (
                unit.recorded_at is None or unit.recorded_at < fix.recorded_at
            ):
                self.units[fix.unit_id] = unit.model_copy(
                    update={"lat": fix.lat, "lon": fix.lon, "recorded_at": fix.recorded_at}
                )

    async def history(self, unit_id: str, *, since: datetime, until: datetime) -> list[StoredFix]:
        return [
            StoredFix(recorded_at=fix.recorded_at, **_fix_fields(fix))
            for (unit, _), fix in sorted(self.fixes.items())
            if unit == unit_id and since <= fix.recorded_at < until
        ]

    async def get_unit(self, unit_id: str) -> UnitState | None:
        return self.units.get(unit_id)

    async def newest_in_history(self, unit_ids: list[str]) -> list[PositionReported]:
        newest: dict[str, PositionReported] = {}
        for (unit_id, _), fix in sorted(self.fixes.items()):
            if unit_id in unit_ids:
                newest[unit_id] = fix
        return list(newest.values())

    async def fixes_in_box(
        self,
        box: tuple[float, float, float, float],
        *,
        unit_ids: list[str],
        since: datetime,
        until: datetime,
    ) -> list[tuple[str, datetime, float, float]]:
        min_lat, max_lat, min_lon, max_lon = box
        return [
            (f.unit_id, f.recorded_at, f.lat, f.lon)
            for f in self.fixes.values()
            if f.unit_id in unit_ids
            and since <= f.recorded_at < until
            and min_lat <= f.lat <= max_lat
            and min_lon <= f.lon <= max_lon
        ]

    async def prune_history(self, *, unit_ids: list[str], before: datetime) -> int:
        old = [k for k, f in self.fixes.items() if f.unit_id in unit_ids and f.recorded_at < before]
        for key in old:
            del self.fixes[key]
        return len(old)

    async def set_status(self, unit: UnitState, event: UnitStatusChanged) -> bool:
        current = self.units[unit.unit_id]
        if current.status_version != unit.status_version:
            return False
        self.units[unit.unit_id] = current.model_copy(
            update={
                "status": event.status,
                "status_since": event.occurred_at,
                "status_version": event.version,
                "outbox": [*current.outbox, event],
            }
        )
        return True

    async def pull_status_event(self, unit_id: str, event_id: uuid.UUID) -> None:
        unit = self.units[unit_id]
        outbox = [e for e in unit.outbox if e.event_id != event_id]
        self.units[unit_id] = unit.model_copy(update={"outbox": outbox})

    async def units_with_outbox(self) -> list[UnitState]:
        return [u for u in self.units.values() if u.outbox]

    async def add_campaign(self, campaign: Campaign) -> bool:
        if campaign.campaign_id in self.campaign_records:
            return False
        self.campaign_records[campaign.campaign_id] = campaign
        return True

    async def campaign(self, campaign_id: str) -> Campaign | None:
        return self.campaign_records.get(campaign_id)

    async def campaigns(self) -> list[Campaign]:
        return sorted(self.campaign_records.values(), key=lambda c: c.starts_on, reverse=True)

    async def store_violation(self, event: ViolationRecorded) -> None:
        self.violation_records.setdefault(event.violation_id, event)

    async def violations(self, query: ViolationFilter) -> list[ViolationRecorded]:
        found = [v for v in self.violation_records.values() if query.matches(v)]
        return sorted(found, key=lambda v: v.observed_at, reverse=True)[: query.limit]

    async def store_checkin(self, event: CheckinRecorded) -> None:
        self.checkin_records.setdefault(event.checkin_id, event)

    async def checkins(
        self, point_id: str, *, since: datetime, until: datetime
    ) -> list[CheckinRecorded]:
        found = [
            c
            for c in self.checkin_records.values()
            if c.point_id == point_id and since <= c.at < until
        ]
        return sorted(found, key=lambda c: c.at)

    async def calendar(self) -> Calendar:
        return self.calendar_record

    async def save_calendar(self, calendar: Calendar) -> None:
        self.calendar_record = calendar

    async def add_roster_entry(self, entry: RosterEntry) -> str:
        entry_id = f"{entry.unit_id}:{entry.post_id}:{entry.valid_from}"
        self.roster_records[entry_id] = entry
        return entry_id

    async def roster(self, *, unit_id: str | None = None) -> list[tuple[str, RosterEntry]]:
        return [(k, e) for k, e in self.roster_records.items() if unit_id in (None, e.unit_id)]

    async def post_window(self, key: str) -> PostWindowRecord | None:
        return self.post_window_records.get(key)

    async def save_post_window(self, record: PostWindowRecord) -> None:
        self.post_window_records[record.key] = record

    async def post_windows_on(self, day: date) -> list[PostWindowRecord]:
        found = [r for r in self.post_window_records.values() if r.day == day]
        return sorted(found, key=lambda r: r.window_start)

    async def load_tracks(self, unit_ids: list[str]) -> dict[str, UnitTrack]:
        return {u: self.tracks[u] for u in unit_ids if u in self.tracks}

    async def save_tracks(self, tracks: dict[str, UnitTrack]) -> None:
        self.tracks.update(tracks)
