"""Police visibility (见警率) end to end on the real broker and database: units report positions
near two schools during a rush-hour window; patrols is killed before the window ends and comes
back after it; every school's window is then worked out once from the position history, and
reporting shows which schools saw police, for how long, by kind of patrol."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.geo import haversine_m
from shared.provisioning import load_county
from shared.settings import ROOT
from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import read_topic, wait_for
from tools.stack import Stack

COUNTY = load_county(ROOT / "deploy" / "county.yaml")
ZONE = ZoneInfo(COUNTY.timezone)
DEG_PER_M = 1 / 111_200
WINDOW_LEFT_S = 20  # the window ends this long after the test sets it


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, str]:
    return {"VISIBILITY_SETTLE_S": "1", "VISIBILITY_CHECK_S": "0.5"}


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("patrols", "reporting")


def near(school_id: str, metres: float) -> tuple[float, float]:
    school = COUNTY.school(school_id)
    assert school is not None
    return school.lat + metres * DEG_PER_M, school.lon


async def test_each_school_s_window_is_worked_out_once_across_a_kill_and_reported(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    patrols = stack["patrols"]
    now = datetime.now(ZONE)
    start, end = now - timedelta(minutes=3), now + timedelta(seconds=WINDOW_LEFT_S)
    if start.date() != end.date():
        pytest.skip("the window would cross the county's midnight")
    calendar = {
        "timezone": COUNTY.timezone,
        "school_weekdays": list(range(7)),
        "windows": {"morning": {"start": f"{start:%H:%M:%S}", "end": f"{end:%H:%M:%S}"}},
    }
    chief = ns.auth("supervisor", "li")
    where = {"U004": near("S001", 80), "U013": near("S030", 150)}  # a patrol car, special police
    async with httpx.AsyncClient(timeout=10) as client:
        saved = await client.put(f"{patrols.url}/v1/calendar", json=calendar, headers=chief)
        assert saved.status_code == 200, saved.text
        for unit, (lat, lon) in where.items():
            fixes = [
                {
                    "lat": lat,
                    "lon": lon,
                    "recorded_at": (datetime.now(UTC) - timedelta(seconds=s)).isoformat(),
                }
                for s in (150, 90, 30)  # three of the window's minutes
            ]
            posted = await client.post(
                f"{patrols.url}/v1/units/{unit}/positions",
                json={"fixes": fixes},
                headers=ns.auth("unit", unit),
            )
            assert posted.status_code == 202, posted.text

        async def stored() -> bool:
            history = await client.get(
                f"{patrols.url}/v1/units/U013/positions",
                params={
                    "since": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                    "until": datetime.now(UTC).isoformat(),
                },
                headers=chief,
            )
            return history.status_code == 200 and len(history.json()) == 3

        await wait_for(stored, timeout_s=20)
        patrols.kill()  # down when the window ends: it is worked out once it is back
        await asyncio.sleep(max(0.0, (end - datetime.now(ZONE)).total_seconds()) + 2)
        patrols.start()
        await asyncio.to_thread(patrols.wait_ready)

        # the windows the default calendar had at start-up are before `since`: only this one
        since = {"since": (start - timedelta(seconds=1)).isoformat()}

        async def reported() -> dict[str, Any] | None:
            got = await client.get(
                f"{stack['reporting'].url}/v1/reports/visibility", params=since, headers=chief
            )
            body: dict[str, Any] = got.json()
            return body if body["rows"][0]["school_windows"] == len(COUNTY.schools) else None

        report = await wait_for(reported, timeout_s=40)
    expected = {
        s.school_id
        for s in COUNTY.schools
        for lat, lon in where.values()
        if haversine_m(s.lat, s.lon, lat, lon) <= 300
    }
    seen = {r["school_id"] for r in report["rows"] if r["school_id"] and r["seen"]}
    assert seen == expected and {"S001", "S030"} <= seen
    by_school = {r["school_id"]: r for r in report["rows"] if r["school_id"]}
    assert (by_school["S001"]["minutes_present"], by_school["S001"]["vehicle"]) == (3, 1)
    assert (by_school["S030"]["special"], by_school["S030"]["vehicle"]) == (1, 0)
    assert report["rows"][0]["seen"] == len(expected)

    events = [
        e
        for e in await read_topic(KAFKA_BOOTSTRAP, ns.topics.patrols_visibility)
        if datetime.fromisoformat(e["window_start"]) >= start - timedelta(seconds=1)
    ]
    keys = [(e["school"]["school_id"], e["window_start"]) for e in events]
    assert len(set(keys)) == len(COUNTY.schools), "every school's window"
    assert len({e["event_id"] for e in events}) == len(COUNTY.schools), "each once"


async def test_a_bad_visibility_query_is_refused_naming_it(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    url = f"{stack['reporting'].url}/v1/reports/visibility"
    async with httpx.AsyncClient(timeout=10) as client:
        chief = ns.auth("supervisor", "li")
        evening = await client.get(url, params={"kind": "evening"}, headers=chief)
        assert evening.status_code == 422 and "kind" in evening.text
        township = await client.get(url, params={"township": "无此镇"}, headers=chief)
        assert township.status_code == 422 and "township" in township.text
        unit = await client.get(url, headers=ns.auth("unit", "U001"))
        assert unit.status_code == 403
