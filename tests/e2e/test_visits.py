"""Visits to patrol points from real fixes through patrols: a unit arrives at a school's gate,
patrols is SIGKILLed while the unit is inside, the unit stays and leaves after the restart,
and exactly one visit is published, with every fix inside and the whole dwell."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from shared.events import utcnow
from shared.provisioning import load_county
from shared.settings import ROOT
from tests.conftest import KAFKA_BOOTSTRAP, MONGODB_URL, Namespace
from tests.helpers import read_topic, wait_for
from tools.stack import Stack

COUNTY = load_county(ROOT / "deploy" / "county.yaml")
GATE = next(p for p in COUNTY.patrol_points if p.point_id == "S001-must_reach")
UNIT = "U005"
DEG_PER_M = 1 / 111_200


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("patrols",)


def fix(at: datetime, metres_north: float) -> dict[str, Any]:
    return {
        "lat": GATE.lat + metres_north * DEG_PER_M,
        "lon": GATE.lon,
        "recorded_at": at.isoformat(),
    }


async def test_a_visit_across_a_kill_is_published_once_with_its_whole_dwell(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    patrols = stack["patrols"]
    t0 = utcnow().replace(microsecond=0) - timedelta(minutes=2)
    url = f"{patrols.url}/v1/units/{UNIT}/positions"
    unit = ns.auth("unit", UNIT)
    arriving = [
        fix(t0 - timedelta(seconds=20), 800),
        fix(t0, 10),
        fix(t0 + timedelta(seconds=10), 0),
    ]
    staying_and_leaving = [
        fix(t0 + timedelta(seconds=20), 5),
        fix(t0 + timedelta(seconds=45), 0),
        fix(t0 + timedelta(seconds=60), 900),
    ]
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
    tracks = mongo[f"{ns.db_prefix}patrols"]["visit_tracks"]
    try:
        async with httpx.AsyncClient(timeout=15) as client:
            posted = await client.post(url, json={"fixes": arriving}, headers=unit)
            assert posted.status_code == 202, posted.text

            async def arrived() -> bool:
                doc = await tracks.find_one({"_id": UNIT})
                return bool(doc and doc["open"])

            await wait_for(arrived, timeout_s=30)  # the arrival is stored before the commit
            patrols.kill()
            patrols.start()
            await asyncio.to_thread(patrols.wait_ready)
            for _ in range(2):  # the terminal resends its batch: the same fixes, nothing new
                posted = await client.post(url, json={"fixes": staying_and_leaving}, headers=unit)
                assert posted.status_code == 202, posted.text

        async def visits() -> list[dict[str, Any]]:
            found = await read_topic(KAFKA_BOOTSTRAP, ns.topics.patrols_visits, idle_s=1.0)
            return [v for v in found if v["unit_id"] == UNIT]

        await wait_for(visits, timeout_s=30)
        await asyncio.sleep(2)
        by_point = {}
        for found in await visits():  # the gate lies in the school's must_patrol area too
            assert found["point_id"] not in by_point, "each visit is published once"
            by_point[found["point_id"]] = found
        assert set(by_point) == {GATE.point_id, "S001-must_patrol"}
        visit = by_point[GATE.point_id]
        assert (visit["school_id"], visit["closed_by"]) == (GATE.school_id, "left")
        assert (visit["fixes"], visit["dwell_s"]) == (4, 45.0)
        assert datetime.fromisoformat(visit["arrived_at"]) == t0
    finally:
        await mongo.close()
