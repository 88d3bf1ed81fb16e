"""shared.period: the half-open period every filter holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.period import Period

T = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_a_period_holds_its_start_and_not_its_end() -> None:
    period = Period(since=T, until=T + timedelta(hours=1))
    assert period.holds(T) and not period.holds(T + timedelta(hours=1))
    assert Period().holds(T), "open at both ends: everything"
    assert Period(until=T).holds(T - timedelta(days=400))


def test_as_a_mongodb_condition_and_backwards() -> None:
    assert Period().mongo("at") == {}
    assert Period(since=T).mongo("at") == {"at": {"$gte": T}}
    assert Period(since=T, until=T).mongo("at") == {"at": {"$gte": T, "$lt": T}}
    assert Period(since=T, until=T).backwards() and not Period(since=T).backwards()
