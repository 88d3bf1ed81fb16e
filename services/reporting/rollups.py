"""Roll-ups: each school's tallies (services/reporting/tallies.py) kept per county day and per
county month in MongoDB, so a report reads a few documents per school however long its period.

A period is cut into whole months (read from `<name>_months`), whole days outside them
(`<name>_days`) and, where it starts or ends inside a day, the records of those hours (read
from the raw collection and tallied the same way). Each part covers its own calendar days, so
the parts add up.

A roll-up is kept true by recomputing it from the records, never by incrementing it, so a
redelivered event changes nothing. Two instances may recompute the same day at once: every
stored record bumps its day's `seq` after it is stored, and a recomputation writes only if
`seq` is still what it read before reading the records (else it reads again). A month is kept
from its days the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.reporting import tallies
from services.reporting.tallies import Facets, Shape, Tallies
from shared.mongo import Document
from shared.period import Period

MAX_ATTEMPTS = 20  # recomputations of one bucket raced by other writers before giving up


@dataclass(frozen=True)
class Split:
    """A period as disjoint parts: raw hours at its edges, whole days, whole months. Days and
    months are ISO strings ('2026-03-05', '2026-03'); a None bound is open."""

    raw: tuple[Period, ...]
    days: tuple[tuple[str | None, str | None], ...]  # [from, to) ranges of days
    months: tuple[str | None, str | None] | None  # [from, to) range of months, if any


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _month(day: date) -> str:
    return day.isoformat()[:7]


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def split(period: Period, zone: ZoneInfo) -> Split:
    """Cut [since, until) at the county's midnights and month starts."""
    raw: list[Period] = []
    first: date | None = None  # first whole day
    end: date | None = None  # the day after the last whole day
    if period.since is not None:
        first = tallies.local_day(period.since, zone)
        if period.since != _midnight(first, zone):
            first += timedelta(days=1)
            head_end = _midnight(first, zone)
            if period.until is not None and period.until < head_end:
                return Split(raw=(period,), days=(), months=None)
            raw.append(Period(since=period.since, until=head_end))
    if period.until is not None:
        end = tallies.local_day(period.until, zone)
        tail_start = _midnight(end, zone)
        if period.until != tail_start:
            raw.append(
                Period(since=max(tail_start, period.since or tail_start), until=period.until)
            )
    if first is not None and end is not None and first >= end:
        return Split(raw=tuple(raw), days=(), months=None)
    month_from = None if first is None else (first if first.day == 1 else _next_month(first))
    month_to = None if end is None else end.replace(day=1)
    if month_from is not None and month_to is not None and month_from >= month_to:
        day_range = (_iso(first), _iso(end))
        return Split(raw=tuple(raw), days=(day_range,), months=None)
    days = []
    if first is not None and month_from is not None and first < month_from:
        days.append((first.isoformat(), month_from.isoformat()))
    if end is not None and month_to is not None and month_to < end:
        days.append((month_to.isoformat(), end.isoformat()))
    months = (
        (None if month_from is None else _month(month_from)),
        (None if month_to is None else _month(month_to)),
    )
    return Split(raw=tuple(raw), days=tuple(days), months=months)


def key(school_id: str, bucket: str) -> str:
    return f"{school_id}|{bucket}"


def document(school_id: str, bucket: str, facets: Facets) -> Document:
    """A whole roll-up document, as a bulk load writes it (the service recomputes in place)."""
    fields = {"school_id": school_id, "bucket": bucket, "seq": 1, "f": facets}
    return {"_id": key(school_id, bucket)} | fields


def month_of(day: date) -> str:
    return _month(day)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _range(low: str | None, high: str | None) -> Document:
    bounds = {op: v for op, v in (("$gte", low), ("$lt", high)) if v is not None}
    return {"bucket": bounds} if bounds else {}


Tally = Callable[[Sequence[Sequence[Any]]], Tallies]
Load = Callable[[Period, frozenset[str] | None], Awaitable[Sequence[Sequence[Any]]]]


@dataclass(frozen=True)
class Rollup:
    """One roll-up: its collections' stem, its shape, how records tally (`tally`, given each
    source's records) and how to load a stretch of records (`load`)."""

    name: str
    shape: Shape
    tally: Tally


class RollupStore:
    """The day and month documents of one roll-up: `{_id, school_id, bucket, seq, f: facets}`."""

    def __init__(self, db: AsyncDatabase[Document], rollup: Rollup, zone: ZoneInfo, load: Load):
        self.rollup = rollup
        self.zone = zone
        self._load = load
        self.days = db[f"{rollup.name}_days"]
        self.months = db[f"{rollup.name}_months"]

    async def ensure_indexes(self) -> None:
        for collection in (self.days, self.months):
            await collection.create_index([("bucket", ASCENDING), ("school_id", ASCENDING)])
            await collection.create_index([("school_id", ASCENDING), ("bucket", ASCENDING)])

    # --- keeping it -------------------------------------------------------------------------

    async def refresh(self, school_id: str, moment: datetime) -> None:
        """Recompute the day of `moment` at this school from its records, then its month."""
        day = tallies.local_day(moment, self.zone)
        await self._bump(self.days, school_id, day.isoformat())
        await self._recompute(self.days, school_id, day.isoformat(), self._day_facets)
        await self._bump(self.months, school_id, _month(day))
        await self._recompute(self.months, school_id, _month(day), self._month_facets)

    async def _bump(self, collection: Any, school_id: str, bucket: str) -> None:
        update = {"$inc": {"seq": 1}, "$setOnInsert": {"school_id": school_id, "bucket": bucket}}
        try:
            await collection.update_one({"_id": key(school_id, bucket)}, update, upsert=True)
        except DuplicateKeyError:  # another instance created it first: now it matches
            await collection.update_one({"_id": key(school_id, bucket)}, update)

    async def _recompute(
        self,
        collection: Any,
        school_id: str,
        bucket: str,
        facets_of: Callable[[str, str], Awaitable[Facets]],
    ) -> None:
        bucket_key = key(school_id, bucket)
        for _ in range(MAX_ATTEMPTS):
            held = await collection.find_one({"_id": bucket_key}, {"seq": 1})
            facets = await facets_of(school_id, bucket)
            written = await collection.update_one(
                {"_id": bucket_key, "seq": held["seq"]}, {"$set": {"f": facets}}
            )
            if written.matched_count:
                return
        raise RuntimeError(f"{collection.name} {bucket_key}: raced {MAX_ATTEMPTS} times")

    async def _day_facets(self, school_id: str, bucket: str) -> Facets:
        day = date.fromisoformat(bucket)
        hours = Period(
            since=_midnight(day, self.zone), until=_midnight(day + timedelta(days=1), self.zone)
        )
        counted = self.rollup.tally(await self._load(hours, frozenset({school_id})))
        return counted.get(school_id, {})

    async def _month_facets(self, school_id: str, bucket: str) -> Facets:
        first = date.fromisoformat(f"{bucket}-01")
        within = {"$gte": first.isoformat(), "$lt": _next_month(first).isoformat()}
        days = self.days.find({"school_id": school_id, "bucket": within}, {"f": 1})
        return tallies.merge(self.rollup.shape, [doc.get("f", {}) async for doc in days])

    # --- reading it -------------------------------------------------------------------------

    async def tallies(
        self, period: Period, school_ids: frozenset[str] | None, facets: Sequence[str]
    ) -> Tallies:
        """Each school's tallies over the period, in the given facets."""
        parts = split(period, self.zone)
        found: list[Tallies] = []
        if parts.months is not None:
            found.append(await self._read(self.months, [_range(*parts.months)], school_ids, facets))
        if parts.days:
            found.append(
                await self._read(self.days, [_range(*r) for r in parts.days], school_ids, facets)
            )
        for hours in parts.raw:
            counted = self.rollup.tally(await self._load(hours, school_ids))
            found.append(
                {s: {f: v for f, v in fs.items() if f in facets} for s, fs in counted.items()}
            )
        return tallies.merge_schools(self.rollup.shape, found)

    async def _read(
        self,
        collection: Any,
        ranges: list[Document],
        school_ids: frozenset[str] | None,
        facets: Sequence[str],
    ) -> Tallies:
        match: Document = {"$or": ranges} if len(ranges) > 1 else ranges[0]
        if school_ids is not None:
            match = match | {"school_id": {"$in": sorted(school_ids)}}
        shape = self.rollup.shape
        group: Document = {"_id": "$school_id"}
        for n, facet in enumerate(facets):
            for field in shape.sums:
                group[f"{n}_{field}"] = {"$sum": f"$f.{facet}.{field}"}
            for field in shape.sets:
                group[f"{n}_{field}"] = {"$push": f"$f.{facet}.{field}"}
        cursor = await collection.aggregate([{"$match": match}, {"$group": group}])
        found: Tallies = {}
        async for doc in cursor:
            found[doc["_id"]] = {facet: _fields(shape, doc, n) for n, facet in enumerate(facets)}
        return found


def _fields(shape: Shape, doc: Document, n: int) -> dict[str, Any]:
    fields: dict[str, Any] = {field: doc.get(f"{n}_{field}") or 0 for field in shape.sums}
    for field in shape.sets:
        joined: set[Any] = set()
        for part in doc.get(f"{n}_{field}") or ():
            joined.update(part or ())
        fields[field] = sorted(joined)
    return fields
