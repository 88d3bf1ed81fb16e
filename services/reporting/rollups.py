"""Roll-ups: each school's tallies (services/reporting/tallies.py) kept per county day, month
and year in MongoDB, so a report reads a few documents per school however long its period.

A period is cut into whole years (read from `<name>_years`), whole months outside them
(`<name>_months`), whole days outside those (`<name>_days`) and, where it starts or ends inside
a day, the records of those hours (read from the raw collection and tallied the same way). Each
part covers its own calendar days, so the parts add up.

A roll-up is kept true by recomputing it from what it sums, never by incrementing it, so a
redelivered event changes nothing: a day from its records, a month from its days, a year from
its months. Two instances may recompute the same bucket at once: the days records count in have
their `seq` bumped after the records are stored (and each recomputed day its month's, each
month its year's),
and a recomputation writes only if `seq` is still what it read before reading what it sums
(else it reads again).

Documents are `{_id: "<school>|<bucket>", school_id, bucket, seq, <facet>_<field>...}`: flat,
because MongoDB reads top-level fields in an aggregation much faster than nested ones
(docs/benchmarks.md)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.reporting import tallies
from services.reporting.tallies import Facets, Shape, Tallies
from shared.mongo import Document
from shared.period import Period

MAX_ATTEMPTS = 20  # recomputations of one bucket raced by other writers before giving up
PER_SCHOOL_MAX = 200  # up to this many schools (a township's), read school by school

Span = tuple[date | None, date | None]  # [from, to) in days, None: open


@dataclass(frozen=True)
class Grain:
    """Days, months or years: a bucket's name from its first day, where a bucket starts,
    and the first day of the next one."""

    name: str
    width: int  # characters of the ISO date that name a bucket

    def bucket(self, day: date) -> str:
        return day.isoformat()[: self.width]

    def start(self, day: date) -> date:
        if self.name == "days":
            return day
        return day.replace(month=1, day=1) if self.name == "years" else day.replace(day=1)

    def after(self, day: date) -> date:
        """The next bucket's first day, for a bucket's first day."""
        if self.name == "days":
            return day + timedelta(days=1)
        if self.name == "years":
            return date(day.year + 1, 1, 1)
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)


DAYS, MONTHS, YEARS = Grain("days", 10), Grain("months", 7), Grain("years", 4)
GRAINS = (DAYS, MONTHS, YEARS)


@dataclass(frozen=True)
class Split:
    """A period as disjoint parts: raw hours at its edges, and per grain the spans of whole
    buckets read from it."""

    raw: tuple[Period, ...]
    spans: dict[str, tuple[Span, ...]]

    def ranges(self) -> Iterator[tuple[Grain, Document]]:
        """Each span as its grain and the `bucket` match that reads it: one query a span,
        since the server is slow at `$or` of ranges (docs/benchmarks.md)."""
        for grain in GRAINS:
            for span in self.spans.get(grain.name, ()):
                yield grain, bucket_range(grain, span)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _whole(span: Span, grain: Grain) -> Span | None:
    """The whole buckets of `grain` inside a span of days, or None when there is none."""
    first, end = span
    low = None if first is None else first if grain.start(first) == first else None
    if first is not None and low is None:
        low = grain.after(grain.start(first))
    high = None if end is None else grain.start(end)
    if low is not None and high is not None and low >= high:
        return None
    return low, high


def _outside(span: Span, inner: Span) -> tuple[Span, ...]:
    """The parts of `span` before and after `inner` (which lies within it)."""
    parts: list[Span] = []
    if inner[0] is not None and span[0] != inner[0]:
        parts.append((span[0], inner[0]))
    if inner[1] is not None and span[1] != inner[1]:
        parts.append((inner[1], span[1]))
    return tuple(parts)


def _days(period: Period, zone: ZoneInfo) -> tuple[list[Period], Span | None]:
    """The raw hours at the period's edges, and its whole county days (None: none)."""
    raw: list[Period] = []
    first = end = None
    if period.since is not None:
        first = tallies.local_day(period.since, zone)
        if period.since != _midnight(first, zone):
            first += timedelta(days=1)
            head_end = _midnight(first, zone)
            if period.until is not None and period.until <= head_end:
                return [period], None
            raw.append(Period(since=period.since, until=head_end))
    if period.until is not None:
        end = tallies.local_day(period.until, zone)
        tail_start = _midnight(end, zone)
        if period.until != tail_start:
            start = max(tail_start, period.since or tail_start)
            raw.append(Period(since=start, until=period.until))
    if first is not None and end is not None and first >= end:
        return raw, None
    return raw, (first, end)


# No record is this old or this far ahead; a day either side of such bounds is beyond what
# dates can hold. A period starting before EARLIEST starts with the records, one ending after
# LATEST ends with them; one that ends before EARLIEST or starts after LATEST holds none.
EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 1, 1, tzinfo=UTC)


def split(period: Period, zone: ZoneInfo) -> Split:
    """Cut [since, until) at the county's midnights, month starts and year starts."""
    since, until = period.since, period.until
    if (since is not None and since >= LATEST) or (until is not None and until <= EARLIEST):
        return Split(raw=(), spans={})
    since = None if since is not None and since <= EARLIEST else since
    until = None if until is not None and until >= LATEST else until
    raw, days = _days(Period(since=since, until=until), zone)
    spans: dict[str, tuple[Span, ...]] = {}
    remaining: tuple[Span, ...] = () if days is None else (days,)
    finer = DAYS
    for coarser in (MONTHS, YEARS):
        kept: list[Span] = []
        for span in remaining:
            whole = _whole(span, coarser)
            if whole is None:
                spans[finer.name] = (*spans.get(finer.name, ()), span)
                continue
            spans[finer.name] = (*spans.get(finer.name, ()), *_outside(span, whole))
            kept.append(whole)
        remaining, finer = tuple(kept), coarser
    if remaining:
        spans[finer.name] = (*spans.get(finer.name, ()), *remaining)
    return Split(raw=tuple(raw), spans=spans)


def key(owner: str, bucket: str) -> str:
    return f"{owner}|{bucket}"


def document(shape: Shape, school_id: str, bucket: str, facets: Facets) -> Document:
    """A whole roll-up document, as a bulk load writes it (the service recomputes in place)."""
    fields = {"school_id": school_id, "bucket": bucket, "seq": 1}
    return {"_id": key(school_id, bucket)} | fields | tallies.flatten(shape, facets)


def bucket_range(grain: Grain, span: Span) -> Document:
    bounds = {op: grain.bucket(day) for op, day in (("$gte", span[0]), ("$lt", span[1])) if day}
    return {"bucket": bounds} if bounds else {}


def day_hours(day: date, zone: ZoneInfo) -> Period:
    """A county day as a period."""
    return Period(since=_midnight(day, zone), until=_midnight(day + timedelta(days=1), zone))


Tally = Callable[[Sequence[Sequence[Any]]], Tallies]
Load = Callable[[Period, frozenset[str] | None], Awaitable[Sequence[Sequence[Any]]]]


@dataclass(frozen=True)
class Rollup:
    """One roll-up: its collections' stem, its shape, and how records tally (`tally`, given
    each source's records)."""

    name: str
    shape: Shape
    tally: Tally


class Stale(NamedTuple):
    """An owner's day in one bucket store, to be recomputed (with its month and year)."""

    store: BucketStore
    owner: str
    day: date


async def refresh(stale: set[Stale]) -> None:
    """Recompute each stale day once (a batch's records often share their days)."""
    for store, owner, day in sorted(stale, key=lambda one: (one.owner, one.day)):
        await store.refresh_day(owner, day)


class BucketStore(ABC):
    """Day, month and year documents `<name>_<grain>`, one per owner (`owner_field`: a school,
    a township) and bucket, kept by recomputation under compare-and-set on `seq`. A subclass
    says what a day holds (from its records) and what a coarser bucket holds (from the finer
    documents inside it), as the document's fields."""

    owner_field = "school_id"

    def __init__(self, db: AsyncDatabase[Document], name: str, zone: ZoneInfo):
        self.zone = zone
        self._collections = {grain.name: db[f"{name}_{grain.name}"] for grain in GRAINS}

    async def ensure_indexes(self) -> None:
        for collection in self._collections.values():
            await collection.create_index([("bucket", ASCENDING), (self.owner_field, ASCENDING)])
            await collection.create_index([(self.owner_field, ASCENDING), ("bucket", ASCENDING)])

    @abstractmethod
    async def _day_fields(self, owner: str, day: date) -> Document:
        """A day's fields, from its records."""

    @abstractmethod
    def _fields_of(self, parts: list[Document]) -> Document:
        """A bucket's fields from the documents of the finer buckets inside it."""

    def stale(self, owner: str, moment: datetime) -> Stale:
        """The owner's day that a record of `moment` counts in."""
        return Stale(self, owner, tallies.local_day(moment, self.zone))

    async def refresh_day(self, owner: str, day: date) -> None:
        """Recompute this owner's day from its records, then its month from its days, then
        its year from its months."""
        finer: Grain | None = None
        for grain in GRAINS:
            bucket = grain.bucket(day)
            collection = self._collections[grain.name]
            seq = await self._bump(collection, owner, bucket)
            for _ in range(MAX_ATTEMPTS):
                if finer is None:
                    fields = await self._day_fields(owner, day)
                else:
                    fields = await self._sum_of(finer, owner, grain, grain.start(day))
                written = await collection.update_one(
                    {"_id": key(owner, bucket), "seq": seq}, {"$set": fields}
                )
                if written.matched_count:
                    break
                held = await collection.find_one({"_id": key(owner, bucket)}, {"seq": 1})
                if held is None:  # bumped above; nothing deletes roll-ups
                    raise RuntimeError(f"{collection.name} {owner}|{bucket} vanished")
                seq = held["seq"]
            else:
                raise RuntimeError(f"{collection.name} {owner}|{bucket}: raced too often")
            finer = grain

    async def _bump(self, collection: AsyncCollection[Document], owner: str, bucket: str) -> int:
        """Count one more record into the bucket, creating it if need be: its `seq` after."""
        update = {"$inc": {"seq": 1}, "$setOnInsert": {self.owner_field: owner, "bucket": bucket}}

        async def bump(upsert: bool) -> Document | None:
            return await collection.find_one_and_update(
                {"_id": key(owner, bucket)},
                update,
                {"seq": 1},
                upsert=upsert,
                return_document=ReturnDocument.AFTER,
            )

        try:
            bumped = await bump(upsert=True)
        except DuplicateKeyError:  # another instance created it first: now it matches
            bumped = await bump(upsert=False)
        if bumped is None:  # upserted or matched just above; nothing deletes roll-ups
            raise RuntimeError(f"{collection.name} {owner}|{bucket} vanished")
        return int(bumped["seq"])

    async def _sum_of(self, finer: Grain, owner: str, grain: Grain, first: date) -> Document:
        span = bucket_range(finer, (first, grain.after(first)))
        parts = self._collections[finer.name].find({self.owner_field: owner} | span)
        return self._fields_of([doc async for doc in parts])


class RollupStore(BucketStore):
    """Each school's tallies of one roll-up; `load` reads a stretch of records."""

    def __init__(self, db: AsyncDatabase[Document], rollup: Rollup, zone: ZoneInfo, load: Load):
        super().__init__(db, rollup.name, zone)
        self.rollup = rollup
        self._load = load

    async def _day_fields(self, owner: str, day: date) -> Document:
        counted = self.rollup.tally(await self._load(day_hours(day, self.zone), frozenset({owner})))
        return tallies.flatten(self.rollup.shape, counted.get(owner, {}))

    def _fields_of(self, parts: list[Document]) -> Document:
        shape = self.rollup.shape
        merged = tallies.merge(shape, [tallies.unflatten(shape, doc) for doc in parts])
        return tallies.flatten(shape, merged)

    # --- reading it -------------------------------------------------------------------------

    async def tallies(
        self, period: Period, school_ids: frozenset[str] | None, facets: Sequence[str]
    ) -> Tallies:
        """Each school's tallies over the period, in the given facets."""
        parts = split(period, self.zone)
        found: list[Tallies] = []
        for grain, buckets in parts.ranges():
            found.append(await self._read(grain, buckets, school_ids, facets))
        for hours in parts.raw:
            counted = self.rollup.tally(await self._load(hours, school_ids))
            found.append(
                {s: {f: v for f, v in fs.items() if f in facets} for s, fs in counted.items()}
            )
        return tallies.merge_schools(self.rollup.shape, found)

    async def daily(
        self, days: Span, school_ids: frozenset[str] | None, sums: Sequence[str]
    ) -> dict[str, Counter[str]]:
        """These sums over every facet, per day of [first, end) and across the schools (None:
        every school), from the day documents alone."""
        match = bucket_range(DAYS, days)
        fields = [f"{facet}_{name}" for facet in self.rollup.shape.facets for name in sums]
        collection = self._collections[DAYS.name]
        if school_ids is None:  # one group per day, summed by the server
            group: Document = {"_id": "$bucket"} | {f: {"$sum": f"${f}"} for f in fields}
            found = [
                doc
                async for doc in await collection.aggregate([{"$match": match}, {"$group": group}])
            ]
            for doc in found:
                doc["bucket"] = doc["_id"]
        else:  # the schools first: SecantusDB's server then uses the (school, bucket) index
            ids = sorted(school_ids)
            match = {"school_id": ids[0] if len(ids) == 1 else {"$in": ids}} | match
            projection = {f: 1 for f in fields} | {"bucket": 1, "_id": 0}
            found = [doc async for doc in collection.find(match, projection)]
        per_day: dict[str, Counter[str]] = defaultdict(Counter)
        for doc in found:
            per_day[doc["bucket"]].update(
                {
                    name: sum(doc.get(f"{facet}_{name}") or 0 for facet in self.rollup.shape.facets)
                    for name in sums
                }
            )
        return dict(per_day)

    async def _read(
        self,
        grain: Grain,
        match: Document,
        school_ids: frozenset[str] | None,
        facets: Sequence[str],
    ) -> Tallies:
        if school_ids is not None and 1 < len(school_ids) <= PER_SCHOOL_MAX:
            each: Tallies = {}
            for school_id in sorted(school_ids):  # equality: fast where `$in` is slow
                each |= await self._read(grain, match, frozenset({school_id}), facets)
            return each
        if school_ids is not None:
            ids = sorted(school_ids)
            match = match | {"school_id": ids[0] if len(ids) == 1 else {"$in": ids}}
        shape = self.rollup.shape
        group: Document = {"_id": "$school_id"}
        for facet in facets:
            for name in shape.sums:
                group[f"{facet}_{name}"] = {"$sum": f"${facet}_{name}"}
            for name in shape.sets:
                group[f"{facet}_{name}"] = {"$push": f"${facet}_{name}"}
        collection = self._collections[grain.name]
        cursor = await collection.aggregate([{"$match": match}, {"$group": group}])
        found: Tallies = {}
        async for doc in cursor:
            found[doc["_id"]] = {facet: _fields(shape, doc, facet) for facet in facets}
        return found


def _fields(shape: Shape, doc: Document, facet: str) -> dict[str, Any]:
    fields: dict[str, Any] = {name: doc.get(f"{facet}_{name}") or 0 for name in shape.sums}
    for name in shape.sets:
        joined: set[Any] = set()
        for part in doc.get(f"{facet}_{name}") or ():
            joined.update(part or ())
        fields[name] = sorted(joined)
    return fields
