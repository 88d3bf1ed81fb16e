"""Ledgers: what the alarms, violations and activities reports count (tallies.Ledger) kept
per township and county day, month and year, the way roll-ups keep each school's coverage
(services/reporting/rollups.py: the same split of a period, the same recomputation under
compare-and-set). Those reports have no per-school rows, so a township is the finest owner a
province's or a township's report needs; a report of named schools reads their records.

Owners: `t:<township>` for a school of the county's provisioning file, `s:<school_id>` for a
school it does not name, `-` for a record near no school. Violations are also kept by campaign
(`c:<campaign_id>`, and by owner those without one): a province's violations are counted per
campaign and kind, which per township would repeat every campaign in every township.

Documents are `{_id: "<owner>|<bucket>", owner, bucket, seq, counts, latest, values}`
(tallies.ledger_fields). A report reads them with `find` and adds them up itself: a province's
year is one document per township."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting import tallies
from services.reporting.rollups import (
    DAYS,
    MONTHS,
    YEARS,
    BucketStore,
    bucket_range,
    day_hours,
    key,
    split,
)
from services.reporting.tallies import Ledger
from shared.mongo import Document
from shared.period import Period

NO_SCHOOL = "-"
REBUILD_BATCH = 5000  # documents an insert carries when a ledger is rebuilt

LoadOwned = Callable[[Period, str | None], Awaitable[Sequence[Any]]]
Count = Callable[[Sequence[Any]], Ledger]


def township_owner(township: str) -> str:
    return f"t:{township}"


def owner(school_id: str | None, townships: Mapping[str, str]) -> str:
    """Whose ledgers count a record of this school, given each school's township."""
    if school_id is None:
        return NO_SCHOOL
    township = townships.get(school_id)
    return f"s:{school_id}" if township is None else township_owner(township)


def campaign_owner(campaign_id: str | None, owner: str) -> str:
    """Whose campaign ledger counts a violation: its campaign's (`c:<id>`), or without one,
    the owner its school gives."""
    return owner if campaign_id is None else f"c:{campaign_id}"


async def rewrite(collection: AsyncCollection[Document], documents: Sequence[Document]) -> int:
    """Replace everything the collection holds with these documents, in batches (a rebuild
    while no instance writes to it): how many were written."""
    await collection.delete_many({})
    for start in range(0, len(documents), REBUILD_BATCH):
        await collection.insert_many(documents[start : start + REBUILD_BATCH])
    return len(documents)


def document(owner: str, bucket: str, ledger: Ledger) -> Document:
    """A whole ledger document, as a bulk load writes it (the service recomputes in place)."""
    fields = {"owner": owner, "bucket": bucket, "seq": 1}
    return {"_id": key(owner, bucket)} | fields | tallies.ledger_fields(ledger)


class LedgerStore(BucketStore):
    """One ledger's day, month and year documents; `load` reads an owner's records of a
    stretch (None: everyone's), `count` makes their ledger."""

    owner_field = "owner"

    def __init__(
        self, db: AsyncDatabase[Document], name: str, zone: ZoneInfo, load: LoadOwned, count: Count
    ):
        super().__init__(db, name, zone)
        self.name = name
        self._load = load
        self.count = count

    async def _day_fields(self, owner: str, day: date) -> Document:
        return tallies.ledger_fields(self.count(await self._load(day_hours(day, self.zone), owner)))

    def _fields_of(self, parts: list[Document]) -> Document:
        return tallies.ledger_fields(tallies.merge_ledgers(map(tallies.ledger_of, parts)))

    async def ledger(self, period: Period, owner: str | None) -> Ledger:
        """The owner's ledger over the period (None: every owner's)."""
        parts = split(period, self.zone)
        found: list[Ledger] = []
        chosen = {} if owner is None else {self.owner_field: owner}
        for grain, buckets in parts.ranges():
            cursor = self._collections[grain.name].find(
                buckets | chosen, {"counts": 1, "latest": 1, "values": 1, "_id": 0}
            )
            found.extend([tallies.ledger_of(doc) async for doc in cursor])
        for hours in parts.raw:
            found.append(self.count(await self._load(hours, owner)))
        return tallies.merge_ledgers(found)

    async def daily(self, days: tuple[date, date], owner: str | None) -> dict[str, Ledger]:
        """The owner's ledger per day of [first, end) (None: every owner's, merged per day),
        from the day documents."""
        match = bucket_range(DAYS, days) | ({} if owner is None else {self.owner_field: owner})
        found: dict[str, list[Ledger]] = defaultdict(list)
        cursor = self._collections[DAYS.name].find(
            match, {"bucket": 1, "counts": 1, "latest": 1, "values": 1, "_id": 0}
        )
        async for doc in cursor:
            found[doc["bucket"]].append(tallies.ledger_of(doc))
        return {day: tallies.merge_ledgers(some) for day, some in found.items()}

    async def rebuild(
        self,
        records: Iterable[Any],
        owner_of: Callable[[Any], str],
        time_of: Callable[[Any], datetime],
    ) -> int:
        """Every document anew from every record, written whole (a bulk load, or an upgrade
        while no instance stores records): days from the records, months from the days,
        years from the months. The documents written."""
        days: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for record in records:
            day = tallies.local_day(time_of(record), self.zone)
            days[(owner_of(record), DAYS.bucket(day))].append(record)
        built = {DAYS.name: {at: self.count(some) for at, some in days.items()}}
        for finer, coarser in ((DAYS, MONTHS), (MONTHS, YEARS)):
            parts: dict[tuple[str, str], list[Ledger]] = defaultdict(list)
            for (owner, bucket), ledger in built[finer.name].items():
                parts[(owner, bucket[: coarser.width])].append(ledger)
            built[coarser.name] = {at: tallies.merge_ledgers(some) for at, some in parts.items()}
        written = 0
        for grain, ledgers in built.items():
            documents = [document(owner, bucket, one) for (owner, bucket), one in ledgers.items()]
            written += await rewrite(self._collections[grain], documents)
        return written
