"""The response-time report: every figure checked exactly (nearest-rank percentiles)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from services.reporting import exports, figures, service, tallies
from services.reporting.models import IntervalFigures
from services.reporting.service import Deps, Scope
from shared.events import AlarmLifecycle, AlarmState, stable_id
from shared.topics import Topics
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.reporting import InMemoryReportingRepository
from tests.helpers import EverySetting
from tests.unit.test_reporting_service import T0, raised


def moved(alarm: str, state: AlarmState, after_s: float, *, test: bool = False) -> AlarmLifecycle:
    """The alarm reached `state` `after_s` seconds after its press (at T0)."""
    return raised(alarm, "S1", test=test).model_copy(
        update={
            "event_id": stable_id(alarm, state),
            "state": state,
            "occurred_at": T0 + timedelta(seconds=after_s),
        }
    )


# 10 real alarms acknowledged after 1..10 s; 9 of them assigned after 10·k s; 1 resolved.
REAL = [
    *(raised(f"a{k}", "S1") for k in range(1, 11)),
    *(moved(f"a{k}", "acknowledged", k) for k in range(1, 11)),
    *(moved(f"a{k}", "unit_assigned", 10 * k) for k in range(1, 10)),
    moved("a1", "resolved", 600),
]
# a drill, answered in 0.5 s: it must not pull the figures down
DRILL = [raised("drill", "S1", test=True), moved("drill", "acknowledged", 0.5, test=True)]


async def report(events: list[AlarmLifecycle]) -> dict[str, IntervalFigures]:
    deps = Deps(publisher=RecordingPublisher(), topics=Topics(), repo=InMemoryReportingRepository())
    for event in events:
        await service.record_alarm(deps=deps, event=event)
    result = await service.response_times(deps=deps, scope=Scope())
    assert result.tests_excluded == 1
    return {row.interval: row for row in result.intervals}


async def test_every_figure_exactly_and_drills_never_in_them() -> None:
    rows = await report(REAL + DRILL)
    ack = rows["press_to_acknowledged"]
    assert (ack.alarms, ack.missing, ack.p50_s, ack.p90_s, ack.p99_s, ack.max_s) == (
        10,
        0,
        5.0,
        9.0,
        10.0,
        10.0,
    )
    assigned = rows["press_to_unit_assigned"]
    assert (assigned.alarms, assigned.missing, assigned.p50_s, assigned.p90_s) == (9, 1, 50.0, 90.0)
    assert (assigned.p99_s, assigned.max_s) == (90.0, 90.0)
    on_scene = rows["press_to_on_scene"]
    assert (on_scene.alarms, on_scene.missing, on_scene.p50_s) == (0, 10, None)
    assert rows["press_to_resolved"].max_s == 600.0


async def test_a_replay_in_another_order_gives_the_same_figures() -> None:
    first = await report(REAL + DRILL)
    replayed = await report(list(reversed(REAL + DRILL)) + REAL)
    assert replayed == first


def test_csv_has_a_header_and_a_row_per_interval_in_chinese_or_english() -> None:
    rows = figures.response_times(tallies.alarms([]))
    lines = exports.to_csv(IntervalFigures, rows).splitlines()
    assert lines[0] == "时段,真实报警,未达到,中位数（秒）,90分位（秒）,99分位（秒）,最长（秒）"
    assert lines[1:] == [
        f"{name},0,0,,,," for name in ("报警至接警", "报警至派警", "报警至到场", "报警至结警")
    ]
    english = exports.to_csv(IntervalFigures, rows, lang="en").splitlines()
    assert english[0] == "Interval,Real alarms,Not reached,p50 (s),p90 (s),p99 (s),Max (s)"
    assert english[1] == "Press to acknowledged,0,0,,,,"


async def test_bad_report_queries_are_refused_with_422() -> None:
    from services.reporting.main import create_app
    from shared.auth import issue_token

    settings = EverySetting(jwt_secret="r" * 40)  # type: ignore[arg-type]
    app = create_app(settings)  # builds without connecting; these queries never reach the DB
    token = issue_token("r" * 40, sub="s", role="supervisor")
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        url = "/v1/reports/response-times"
        at = datetime(2026, 11, 1, tzinfo=UTC).isoformat()
        same = await client.get(url, params={"since": at, "until": at}, headers=headers)
        assert same.status_code == 422 and "before" in same.json()["detail"][0]["msg"]
        kind = await client.get(url, params={"kind": "earthquake"}, headers=headers)
        assert kind.status_code == 422
        naive = await client.get(url, params={"since": "2026-11-01T00:00:00"}, headers=headers)
        assert naive.status_code == 422
        fmt = await client.get(url, params={"format": "xml"}, headers=headers)
        assert fmt.status_code == 422
        assert (await client.get(url)).status_code == 401
