"""Hazards end to end on the real broker and database: reported by a unit, assigned by a
supervisor, overdue past the deadline (the round), rectified late, verified; bad input refused
naming the problem with nothing stored or published; a kill of patrols between changes, and
every change is on patrols.hazards once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import end_offsets, read_topic, wait_for
from tools.stack import Stack

REPORT: dict[str, Any] = {
    "school_id": "S014",
    "kind": "street_vending",
    "place": {"lat": 35.65, "lon": 105.05, "description": "北门外"},
    "found_by": "patrol",
    "description": "放学时段流动摊贩占道",
    "photos": ["IMG_0001.jpg"],
}


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, str]:
    return {"HAZARD_CHECK_S": "0.5"}


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("patrols",)


def soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_bad_hazards_and_changes_are_refused_and_nothing_is_kept(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    url = f"{stack['patrols'].url}/v1/hazards"
    unit, chief = ns.auth("unit", "U001"), ns.auth("supervisor", "li")
    before = await end_offsets(KAFKA_BOOTSTRAP, ns.topics.patrols_hazards)
    cases: list[tuple[dict[str, Any], int, str]] = [
        (REPORT | {"hazard_id": str(uuid.uuid4()), "school_id": "S404"}, 422, "school_id"),
        (REPORT | {"hazard_id": str(uuid.uuid4()), "kind": "ufo"}, 422, "kind"),
        (REPORT | {"hazard_id": str(uuid.uuid4()), "found_by": "rumour"}, 422, "found_by"),
        (REPORT | {"hazard_id": str(uuid.uuid4()), "description": ""}, 422, "description"),
        (REPORT | {"hazard_id": "not-a-uuid"}, 422, "hazard_id"),
        (REPORT, 422, "hazard_id"),
        (REPORT | {"hazard_id": str(uuid.uuid4()), "place": {"lat": 95, "lon": 0}}, 422, "lat"),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for body, status, named in cases:
            answer = await client.post(url, json=body, headers=unit)
            assert answer.status_code == status and named in answer.text, (body, answer.text)
        assert (await client.post(url, json=REPORT)).status_code == 401
        missing = f"{url}/{uuid.uuid4()}/assign"
        body = {"version": 1, "department": "health", "deadline": soon(3600)}
        assert (await client.post(missing, json=body, headers=chief)).status_code == 404
        assert (await client.get(url, headers=chief)).json() == []
        bad_township = await client.get(url, params={"township": "无此镇"}, headers=chief)
        assert bad_township.status_code == 422 and "township" in bad_township.text
    assert await end_offsets(KAFKA_BOOTSTRAP, ns.topics.patrols_hazards) == before


async def test_a_hazard_from_report_to_verified_each_change_once_across_a_kill(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    patrols = stack["patrols"]
    hazard_id = str(uuid.uuid4())
    unit, chief = ns.auth("unit", "U001"), ns.auth("supervisor", "li")
    url = f"{patrols.url}/v1/hazards"
    async with httpx.AsyncClient(timeout=10) as client:
        reported = await client.post(url, json=REPORT | {"hazard_id": hazard_id}, headers=unit)
        assert reported.status_code == 201 and reported.json()["state"] == "open", reported.text
        again = await client.post(url, json=REPORT | {"hazard_id": hazard_id}, headers=unit)
        assert again.status_code == 201 and again.json() == reported.json(), "a retry"
        other = await client.post(
            url, json=REPORT | {"hazard_id": hazard_id, "kind": "traffic"}, headers=unit
        )
        assert other.status_code == 409

        step = f"{url}/{hazard_id}"
        assert (
            await client.post(
                f"{step}/assign",
                json={"version": 1, "department": "health", "deadline": soon(3600)},
                headers=unit,
            )
        ).status_code == 403, "a unit reports; a supervisor assigns"
        past = await client.post(
            f"{step}/assign",
            json={"version": 1, "department": "market_regulation", "deadline": soon(-60)},
            headers=chief,
        )
        assert past.status_code == 422 and "deadline" in past.text
        assigned = await client.post(
            f"{step}/assign",
            json={"version": 1, "department": "market_regulation", "deadline": soon(2)},
            headers=chief,
        )
        assert assigned.status_code == 200 and assigned.json()["state"] == "assigned"
        early = await client.post(
            f"{step}/verify", json={"version": 2, "passed": True}, headers=chief
        )
        assert early.status_code == 409 and "assigned" in early.json()["detail"]

        async def overdue() -> dict[str, Any] | None:
            held = (await client.get(step, headers=chief)).json()
            return held if held["state"] == "overdue" else None

        marked = await wait_for(overdue, timeout_s=20)  # the deadline round
        assert (marked["version"], marked["actor"]) == (3, "system")

        patrols.kill()  # between changes: what was stored stays, and is published once
        patrols.start()
        await asyncio.to_thread(patrols.wait_ready)
        fixed = await client.post(
            f"{step}/rectify",
            json={"version": 3, "note": "摊贩已劝离", "photos": ["IMG_0002.jpg"]},
            headers=chief,
        )
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["photos"] == ["IMG_0001.jpg", "IMG_0002.jpg"]
        stale = await client.post(
            f"{step}/verify", json={"version": 3, "passed": True}, headers=chief
        )
        assert stale.status_code == 409 and "at version 4, not 3" in stale.json()["detail"]
        done = await client.post(
            f"{step}/verify", json={"version": 4, "passed": True}, headers=chief
        )
        assert done.status_code == 200 and done.json()["state"] == "verified"
        listed = await client.get(url, params={"state": "verified"}, headers=chief)
        assert [h["hazard_id"] for h in listed.json()] == [hazard_id]

    async def published() -> list[dict[str, Any]] | None:
        events = await read_topic(KAFKA_BOOTSTRAP, ns.topics.patrols_hazards)
        mine = [e for e in events if e["hazard_id"] == hazard_id]
        return mine if len({e["version"] for e in mine}) == 5 else None

    events = await wait_for(published, timeout_s=20)
    changes = Counter((e["version"], e["change"]) for e in events)
    assert sorted(changes) == [
        (1, "reported"),
        (2, "assigned"),
        (3, "overdue"),
        (4, "rectified"),
        (5, "verified"),
    ]
    assert len({e["event_id"] for e in events}) == 5, "a republished change keeps its id"
