"""Figures week by week (services/reporting/trends.py): the county's Mondays cut the period,
and each week's row is what that week's own report gives."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.reporting import service, trends
from services.reporting.service import Scope
from shared.errors import InvalidInput
from tests.reports_fixture import DAY, EVERYTHING, UNTIL, fed

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the fixture county's zone
SEPTEMBER = Scope(
    since=datetime(2026, 9, 1, tzinfo=SHANGHAI), until=datetime(2026, 10, 1, tzinfo=SHANGHAI)
)


def test_a_period_is_cut_at_the_county_s_mondays_and_clipped_at_its_ends() -> None:
    since = datetime(2026, 9, 2, 12, tzinfo=UTC)  # a Wednesday
    until = datetime(2026, 9, 20, tzinfo=UTC)
    cuts = trends.weeks(since, until, SHANGHAI)
    assert [(w.since, w.until) for w in cuts] == [
        (since, datetime(2026, 9, 7, tzinfo=SHANGHAI)),
        (datetime(2026, 9, 7, tzinfo=SHANGHAI), datetime(2026, 9, 14, tzinfo=SHANGHAI)),
        (datetime(2026, 9, 14, tzinfo=SHANGHAI), until),
    ]
    assert trends.week_of(date(2026, 9, 6)) == date(2026, 8, 31), "a Sunday ends its week"


async def test_each_week_s_row_is_what_that_week_s_own_report_gives() -> None:
    deps = await fed(EVERYTHING)
    found = await service.trends(deps=deps, scope=SEPTEMBER)
    assert [w.week for w in found.weeks] == [
        date(2026, 8, 31),
        date(2026, 9, 7),
        date(2026, 9, 14),
        date(2026, 9, 21),
        date(2026, 9, 28),
    ]
    whole = (await service.overview(deps=deps, scope=SEPTEMBER)).summary
    assert sum(w.alarms for w in found.weeks) == whole.alarms > 0
    assert sum(w.violations for w in found.weeks) == whole.violations > 0
    assert sum(w.guard_post_windows for w in found.weeks) == whole.guard_post_windows > 0
    for week in found.weeks:
        own = await service.overview(deps=deps, scope=Scope(since=week.since, until=week.until))
        s = own.summary
        assert (week.alarms, week.tests, week.violations) == (s.alarms, s.tests, s.violations)
        assert week.press_to_acknowledged_p50_s == s.press_to_acknowledged_p50_s
        assert week.press_to_on_scene_p50_s == s.press_to_on_scene_p50_s
        assert week.guard_post_windows == s.guard_post_windows
        assert week.guard_post_staffing_rate == s.guard_post_staffing_rate
    assert any(w.alarms for w in found.weeks) and any(w.guard_post_windows for w in found.weeks)


async def test_without_a_start_a_trend_is_the_twelve_weeks_before_its_end_in_whole_days() -> None:
    deps = await fed(EVERYTHING)
    found = await service.trends(deps=deps, scope=Scope(until=UNTIL))
    # UNTIL is 08:00 in the county: the trend runs to the next midnight, from the midnight
    # before the start twelve weeks earlier
    assert found.until == datetime(2026, 10, 2, tzinfo=SHANGHAI)
    assert found.since == datetime(2026, 7, 9, tzinfo=SHANGHAI)
    assert len(found.weeks) == 13  # clipped weeks at both ends: neither is a Monday


async def test_a_trend_of_more_schools_than_a_county_s_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deps = await fed(EVERYTHING)
    monkeypatch.setattr(trends, "MAX_SCHOOLS", 2)
    with pytest.raises(InvalidInput) as refused:
        await service.trends(deps=deps, scope=SEPTEMBER)
    assert "township" in str(refused.value.errors)
    found = await service.trends(deps=deps, scope=dataclasses.replace(SEPTEMBER, township="T1"))
    assert found.township == "T1" and found.weeks


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        (DAY - timedelta(weeks=70), UNTIL, "since"),
        (UNTIL, DAY, "until"),
    ],
)
async def test_a_trend_too_long_or_backwards_is_refused(
    since: datetime, until: datetime, field: str
) -> None:
    deps = await fed(EVERYTHING)
    with pytest.raises(InvalidInput) as refused:
        await service.trends(deps=deps, scope=Scope(since=since, until=until))
    assert field in str(refused.value.errors)


async def test_the_dashboard_s_trend_of_a_long_period_is_its_latest_weeks() -> None:
    deps = await fed(EVERYTHING)
    end = datetime(2026, 10, 1, tzinfo=SHANGHAI)
    long = Scope(since=end - timedelta(weeks=100), until=end)
    found = await service.trends(deps=deps, scope=long, latest=True)
    assert len(found.weeks) == trends.MAX_WEEKS and found.weeks[-1].until == end
    assert found.since == found.weeks[0].since
