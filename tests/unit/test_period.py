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


def test_a_moment_beyond_what_dates_hold_is_refused_with_the_reason() -> None:
    """Year 1 at +14:00 is year 0 in UTC: converting it would overflow (a 500), so it is a 422."""
    import pydantic
    import pytest

    from shared.inputs import Moment

    moment = pydantic.TypeAdapter(Moment)
    for text in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"):
        with pytest.raises(pydantic.ValidationError, match="must lie between 0002-01-01"):
            moment.validate_python(text)
    assert moment.validate_python("2026-03-01T00:00:00+08:00").year == 2026


def test_periods_at_the_ends_of_time_split_without_overflow() -> None:
    """Open ends read every year; a period wholly beyond the records reads nothing."""
    from datetime import UTC, datetime, timedelta, timezone
    from zoneinfo import ZoneInfo

    from services.reporting.rollups import split
    from shared.period import Period

    zone = ZoneInfo("Asia/Shanghai")
    everything = split(Period(), zone)
    assert everything.raw == () and everything.spans["years"] == ((None, None),)
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    assert split(Period(since=early), zone).spans["years"] == ((None, None),)
    assert split(Period(since=datetime(9999, 12, 31, 20, tzinfo=UTC)), zone).spans == {}
    assert split(Period(until=datetime(1, 1, 1, 1, tzinfo=UTC)), zone).spans == {}
