"""The report benchmark's short version (`make bench-reports` runs the whole province): a year
of a small province generated into the database, read through the reporting service's HTTP
API, for the year, a month and a stretch that starts and ends inside days; the totals must be
the records' own."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pymongo import AsyncMongoClient

from shared.auth import issue_token
from tests.conftest import MONGODB_URL, Namespace
from tools import bench_reports, gen_province
from tools.stack import Stack

SCALE = 0.002  # 30 schools, 10 units, some 20,000 records
YEAR = 2026


async def _generate(namespace: Namespace, county: dict[str, Any]) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    try:
        db = client[f"{namespace.db_prefix}reporting"]
        await gen_province.populate(db, county, year=YEAR, scale=SCALE, seed=7)
    finally:
        await client.close()


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("reporting",)


@pytest.fixture(scope="module")
def province(e2e_namespace: Namespace, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    county = gen_province.province(SCALE, seed=7)
    asyncio.run(_generate(e2e_namespace, county))
    return county


@pytest.fixture(scope="module")
def stack_overrides(
    province: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    path: Path = tmp_path_factory.mktemp("province") / "province.yaml"
    path.write_text(yaml.safe_dump(province, allow_unicode=True), encoding="utf-8")
    return {"COUNTY_FILE": str(path)}


def _client(stack: Stack, namespace: Namespace) -> httpx.AsyncClient:
    token = issue_token(namespace.jwt_secret, sub="supervisor", role="supervisor")
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=stack["reporting"].url, headers=headers, timeout=60)


async def _count(namespace: Namespace, collection: str, match: dict[str, Any]) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    try:
        return await client[f"{namespace.db_prefix}reporting"][collection].count_documents(match)
    finally:
        await client.close()


@pytest.mark.parametrize("stretch", bench_reports.stretches(YEAR), ids=lambda s: s.name)
async def test_report_totals_are_the_records_for_a_year_a_month_and_odd_hours(
    stack: Stack,
    e2e_namespace: Namespace,
    province: dict[str, Any],
    stretch: bench_reports.Stretch,
) -> None:
    period = {"since": stretch.since, "until": stretch.until}
    township = province["schools"][0]["township"]
    schools = [s["school_id"] for s in province["schools"] if s["township"] == township]
    since, until = (datetime.fromisoformat(t) for t in (stretch.since, stretch.until))

    def within(field: str) -> dict[str, Any]:
        return {field: {"$gte": since, "$lt": until}}

    async with _client(stack, e2e_namespace) as client:
        coverage = (await client.get("/v1/reports/coverage", params=period)).json()
        posts = (await client.get("/v1/reports/guard-posts", params=period)).json()
        found = (await client.get("/v1/reports/violations", params=period)).json()
        summary = (await client.get("/v1/reports/summary", params=period)).json()
        local = period | {"township": township}
        local_summary = (await client.get("/v1/reports/summary", params=local)).json()

    async def count(collection: str, match: dict[str, Any]) -> int:
        return await _count(e2e_namespace, collection, match)

    accepted = await count("checkins", within("at") | {"flagged": False})
    assert sum(row["checkins"] for row in coverage) == accepted > 0
    flagged = await count("checkins", within("at") | {"flagged": True})
    assert sum(row["flagged"] for row in coverage) == flagged
    assert sum(row["visits"] for row in coverage) == await count("visits", within("arrived_at"))
    windows = await count("guard_windows", within("window_start"))
    assert sum(row["windows"] for row in posts) == windows == summary["guard_post_windows"]
    empty = await count("guard_windows", within("window_start") | {"state": "empty"})
    assert sum(row["empty"] for row in posts) == empty
    assert found["total"] == await count("violations", within("observed_at"))
    real = await count("alarm_facts", within("raised_at") | {"test": False})
    assert summary["alarms"] == real > 0
    assert summary["schools"] == len(coverage)
    # a township's, from its ledgers
    assert local_summary["violations"] > 0 or stretch.name != "year"
    mine = {"school_id": {"$in": schools}}
    assert local_summary["violations"] == await count("violations", within("observed_at") | mine)
    local_alarms = within("raised_at") | {"test": False, "township": township}
    assert local_summary["alarms"] == await count("alarm_facts", local_alarms)
    inspected = within("held_at") | mine | {"activity.kind": "inspection"}
    assert local_summary["inspections"] == await count("activities", inspected)
    drills = within("held_at") | mine | {"activity.kind": "drill"}
    assert local_summary["drills"] == await count("activities", drills)
    assert summary["inspections"] == await count(
        "activities", within("held_at") | {"activity.kind": "inspection"}
    )


async def test_every_report_answers_for_the_province_and_a_township_at_odd_hours(
    stack: Stack, e2e_namespace: Namespace, province: dict[str, Any]
) -> None:
    token = issue_token(e2e_namespace.jwt_secret, sub="supervisor", role="supervisor")
    township = province["schools"][0]["township"]
    (odd,) = [s for s in bench_reports.stretches(YEAR) if s.name == "odd"]
    rows = await bench_reports.time_reports(stack["reporting"].url, token, township, [odd], 0)
    province_wide = len(bench_reports.ENDPOINTS) - len(bench_reports.TOWNSHIP_ONLY)
    assert len(rows) == province_wide + len(bench_reports.ENDPOINTS)
    assert {row["report"] for row in rows if row["scope"] == "township"} >= {"trends"}
    assert all(row["bytes"] > 0 for row in rows)
