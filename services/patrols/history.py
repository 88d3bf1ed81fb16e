"""The layout of position history: buckets of fixes, one document per unit, minute and batch.

A bucket holds the fixes of one unit that arrived in one consumed batch and fall in one
minute (UTC) of their recorded time. Its `_id` is the history key of its oldest fix
(`<unit_id>|<UTC time, microseconds>`), so buckets sort by unit, then time, and one unique
index serves every query as a key range. Since a bucket never spans two minutes, a range that
starts at the minute of `since` finds every bucket holding a fix at or after `since`.

Why buckets: on the embedded server an inserted document costs about the same whether it
holds one fix or twelve (docs/benchmarks.md, "What the code rests on"); history was the
largest write load of the whole system. The gain is the number of a
unit's fixes per consumed batch: terminals that post buffered fixes together fill buckets;
one fix per post makes buckets of one, as costly as the one-document-per-fix layout before.

A fix is identified by (unit, recorded time to the microsecond). A redelivered batch makes the
same buckets again; a bucket whose `_id` is taken is reduced to the fixes the stored one does
not hold and inserted again under its new first fix (`remainder`). A fix that comes again in
another batch with another first fix may be stored twice: reads return each fix once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import groupby

from services.patrols.models import StoredFix
from shared.events import PositionReported
from shared.mongo import EPOCH, Document

SLOT = timedelta(minutes=1)
_SLOT_US = int(SLOT.total_seconds() * 1_000_000)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, exact (BSON dates keep only milliseconds)."""
    delta = moment.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def history_key(unit_id: str, at: datetime | None) -> str:
    """`<unit_id>|<UTC time, microseconds>`: sorts by unit, then time; None is the unit's start."""
    stamp = "" if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{unit_id}|{stamp}"


def slot_start(moment: datetime) -> datetime:
    return from_micros(micros(moment) // _SLOT_US * _SLOT_US)


def key_range(unit_id: str, since: datetime | None, until: datetime | None) -> Document:
    """The `_id` range of the unit's buckets that may hold fixes in [since, until)."""
    start = history_key(unit_id, None if since is None else slot_start(since))
    end = f"{unit_id}}}" if until is None else history_key(unit_id, until)
    return {"$gte": start, "$lt": end}


def _fix_document(fix: PositionReported) -> Document:
    return {
        "t": micros(fix.recorded_at),
        "lat": fix.lat,
        "lon": fix.lon,
        "speed_kmh": fix.speed_kmh,
        "heading_deg": fix.heading_deg,
        "accuracy_m": fix.accuracy_m,
    }


def _bucket(unit_id: str, fixes: list[Document]) -> Document:
    """A bucket of one unit's fixes (documents, oldest first, distinct times, one minute)."""
    first, last = from_micros(fixes[0]["t"]), from_micros(fixes[-1]["t"])
    return {
        "_id": history_key(unit_id, first),
        "unit_id": unit_id,
        "first": first,
        "last": last,
        "n": len(fixes),
        "fixes": fixes,
    }


def buckets(fixes: Iterable[PositionReported]) -> list[Document]:
    """The batch's fixes as buckets: per unit and minute, oldest first, each time once."""
    by_time: dict[tuple[str, int], Document] = {}
    for fix in fixes:
        document = _fix_document(fix)
        by_time.setdefault((fix.unit_id, document["t"]), document)
    ordered = sorted(by_time.items(), key=lambda item: item[0])

    def slot(item: tuple[tuple[str, int], Document]) -> tuple[str, int]:
        (unit_id, t), _ = item
        return unit_id, t // _SLOT_US

    return [
        _bucket(unit_id, [document for _, document in group])
        for (unit_id, _), group in groupby(ordered, key=slot)
    ]


def fixes_of(doc: Document) -> list[Document]:
    """A stored document's fixes; a document from before buckets is one fix."""
    if "fixes" in doc:
        return list(doc["fixes"])
    return [
        {
            "t": micros(doc["recorded_at"].replace(tzinfo=UTC)),
            **{k: doc.get(k) for k in ("lat", "lon", "speed_kmh", "heading_deg", "accuracy_m")},
        }
    ]


def fix_count(doc: Document) -> int:
    return int(doc.get("n", 1))


def remainder(bucket: Document, stored: Document) -> Document | None:
    """What of `bucket` the `stored` one (same `_id`) does not hold, as a bucket; or None."""
    held = {fix["t"] for fix in fixes_of(stored)}
    rest = [fix for fix in bucket["fixes"] if fix["t"] not in held]
    return _bucket(bucket["unit_id"], rest) if rest else None


def stored_fixes(
    docs: Iterable[Document], *, since: datetime | None = None, until: datetime | None = None
) -> list[StoredFix]:
    """The fixes of `docs` in [since, until), each time once, oldest first."""
    low = None if since is None else micros(since)
    high = None if until is None else micros(until)
    found: dict[int, Document] = {}
    for doc in docs:
        for fix in fixes_of(doc):
            t = fix["t"]
            if (low is None or t >= low) and (high is None or t < high):
                found.setdefault(t, fix)
    return [
        StoredFix.model_validate({**found[t], "recorded_at": from_micros(t)}) for t in sorted(found)
    ]
