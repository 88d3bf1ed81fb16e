"""Guard posts on the real clock: a window open now, one post staffed, one empty; the gap is
published while the window is open, only for the empty one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.provisioning import load_county
from shared.settings import ROOT
from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import read_topic, wait_for
from tools.stack import Stack

COUNTY = load_county(ROOT / "deploy" / "county.yaml")
CST = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, str]:
    return {"POST_CHECK_S": "1", "POST_GRACE_S": "20"}


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("patrols",)


async def test_an_empty_post_gets_a_gap_during_its_window_and_a_staffed_one_does_not(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    now = datetime.now(CST)
    if (now.hour, now.minute) >= (23, 58) or (now.hour, now.minute) == (0, 0):
        pytest.skip("the test window must not cross midnight (local school time)")
    start = (now - timedelta(seconds=10)).replace(microsecond=0)  # the gap is due 10 s from now
    end = min(start + timedelta(minutes=30), now.replace(hour=23, minute=59, second=0))
    url = stack["patrols"].url
    chief = ns.auth("supervisor", "chief")
    calendar = {
        "school_weekdays": [0, 1, 2, 3, 4, 5, 6],
        "windows": {"noon": {"start": start.time().isoformat(), "end": end.time().isoformat()}},
    }
    async with httpx.AsyncClient(timeout=15) as client:
        assert (
            await client.put(f"{url}/v1/calendar", json=calendar, headers=chief)
        ).status_code == 200
        for unit, post in (("U016", "S004-stop"), ("U017", "S005-stop")):
            entry = {
                "unit_id": unit,
                "post_id": post,
                "windows": ["noon"],
                "valid_from": now.date().isoformat(),
                "valid_to": now.date().isoformat(),
            }
            created = await client.post(f"{url}/v1/roster", json=entry, headers=chief)
            assert created.status_code == 201, created.text
        wrong = {
            "unit_id": "U016",
            "post_id": "S004-must_reach",
            "windows": ["noon"],
            "valid_from": now.date().isoformat(),
            "valid_to": now.date().isoformat(),
        }
        assert (await client.post(f"{url}/v1/roster", json=wrong, headers=chief)).status_code == 422
        own = await client.get(f"{url}/v1/units/U017/roster", headers=ns.auth("unit", "U017"))
        assert [e["post_id"] for e in own.json()] == ["S005-stop"]

        gate = COUNTY.point("S005-stop")
        assert gate is not None
        fix = {"lat": gate.lat, "lon": gate.lon, "recorded_at": now.isoformat()}
        posted = await client.post(
            f"{url}/v1/units/U017/positions", json={"fixes": [fix]}, headers=ns.auth("unit", "U017")
        )
        assert posted.status_code == 202

        async def judged() -> dict[str, Any] | None:
            listed = await client.get(f"{url}/v1/posts/today", headers=chief)
            states = {r["post_id"]: r["state"] for r in listed.json()}
            return (
                states
                if states.get("S004-stop") == "empty" and states.get("S005-stop") == "staffed"
                else None
            )

        states = await wait_for(judged, timeout_s=30)
    assert states == {"S004-stop": "empty", "S005-stop": "staffed"}
    events = await read_topic(KAFKA_BOOTSTRAP, ns.topics.patrols_guard_posts)
    gaps = [(e["post_id"], e["state"], e["final"]) for e in events]
    assert gaps == [("S004-stop", "empty", False)], "a gap for the empty post only, while open"
