"""The bucket layout of position history (services.patrols.history)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.patrols import history
from shared.events import PositionReported

MINUTE = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def fix(unit_id: str, seconds: float, lat: float = 35.7) -> PositionReported:
    return PositionReported(
        unit_id=unit_id, lat=lat, lon=105.0, recorded_at=MINUTE + timedelta(seconds=seconds)
    )


def test_a_bucket_per_unit_and_minute_oldest_first_each_time_once() -> None:
    batch = [fix("U2", 5), fix("U1", 70), fix("U1", 10), fix("U1", 59.999999), fix("U1", 10, 9)]
    made = history.buckets(batch)
    assert [(b["_id"], b["n"]) for b in made] == [
        ("U1|2026-09-01T08:00:10.000000Z", 2),
        ("U1|2026-09-01T08:01:10.000000Z", 1),
        ("U2|2026-09-01T08:00:05.000000Z", 1),
    ]
    first = made[0]
    assert first["first"] == MINUTE + timedelta(seconds=10)
    assert first["last"] == MINUTE + timedelta(seconds=59.999999)
    assert [f["lat"] for f in first["fixes"]] == [35.7, 35.7]  # the first of a repeated time


def test_the_remainder_is_what_the_stored_bucket_does_not_hold() -> None:
    (stored,) = history.buckets([fix("U1", s) for s in (1, 2, 3)])
    (again,) = history.buckets([fix("U1", s) for s in (1, 2, 3, 4, 5)])
    rest = history.remainder(again, stored)
    assert rest is not None
    assert (rest["_id"], rest["n"]) == ("U1|2026-09-01T08:00:04.000000Z", 2)
    assert history.remainder(stored, again) is None


def test_reads_merge_buckets_and_old_documents_each_fix_once_in_the_range() -> None:
    docs = [
        *history.buckets([fix("U1", s) for s in (1, 2, 3)]),
        *history.buckets([fix("U1", s) for s in (3, 4)]),
        {"recorded_at": (MINUTE + timedelta(seconds=5)).replace(tzinfo=None), "lat": 1.0}
        | {"lon": 2.0},
    ]
    found = history.stored_fixes(
        docs, since=MINUTE + timedelta(seconds=2), until=MINUTE + timedelta(seconds=5.5)
    )
    assert [f.recorded_at.second for f in found] == [2, 3, 4, 5]
    assert found[-1].lat == 1.0 and found[-1].speed_kmh is None
    assert sum(history.fix_count(doc) for doc in docs) == 6


def test_a_range_starts_at_the_minute_of_since() -> None:
    since = MINUTE + timedelta(seconds=42)
    assert history.key_range("U1", since, None) == {
        "$gte": "U1|2026-09-01T08:00:00.000000Z",
        "$lt": "U1}",
    }
    assert history.slot_start(since) == MINUTE
    assert history.from_micros(history.micros(since)) == since
