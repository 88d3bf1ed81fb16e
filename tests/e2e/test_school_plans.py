"""One plan per school (一校一策) end to end on the real broker and database: a supervisor saves
versions through patrols, bad edits are refused naming the problem with nothing stored or
published, and the dispatcher's feed entry of the next alarm at that school carries the newest
version, also when notifications was down while it was saved."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import end_offsets, post_press, press_body, wait_for
from tools.stack import Stack

Client = AsyncMongoClient[dict[str, Any]]
SCHOOL = "S012"
PLAN: dict[str, Any] = {
    "risks": ["紧邻国道", "放学时段校门口拥堵"],
    "contacts": [{"role": "保卫干部", "name": "马老师", "phone": "0943-5551234"}],
    "plan_refs": ["会公〔2026〕12号"],
    "gate_notes": "南门常闭，钥匙在门卫室",
    "building_notes": "教学楼A四层，东西两部楼梯",
}


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("alarms", "patrols", "notifications")


async def put_plan(
    client: httpx.AsyncClient, stack: Stack, ns: Namespace, body: dict[str, Any], **auth: str
) -> httpx.Response:
    role, sub = auth.get("role", "supervisor"), auth.get("sub", "li.supervisor")
    return await client.put(
        f"{stack['patrols'].url}/v1/schools/{SCHOOL}/plan",
        json=body,
        headers=ns.auth(role, sub),  # type: ignore[arg-type]
    )


async def versions(client: httpx.AsyncClient, stack: Stack, ns: Namespace) -> list[int]:
    answer = await client.get(
        f"{stack['patrols'].url}/v1/schools/{SCHOOL}/plan/versions",
        headers=ns.auth("supervisor", "li.supervisor"),
    )
    assert answer.status_code == 200, answer.text
    return [v["version"] for v in answer.json()]


async def test_bad_edits_are_refused_naming_the_problem_and_nothing_is_kept(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    before = await end_offsets(KAFKA_BOOTSTRAP, ns.topics.patrols_school_plans)
    cases: list[tuple[dict[str, Any], dict[str, str], int, str]] = [
        (PLAN | {"version": 0, "contacts": [{"role": "门卫", "phone": "ring"}]}, {}, 422, "phone"),
        (PLAN | {"version": 0, "risks": ["x" * 201]}, {}, 422, "risks"),
        (PLAN | {"version": -1}, {}, 422, "version"),
        (PLAN, {}, 422, "version"),  # which version it replaces is required
        (PLAN | {"version": 0, "owner": "me"}, {}, 422, "owner"),
        (PLAN | {"version": 0}, {"role": "dispatcher", "sub": "wang"}, 403, ""),
        (PLAN | {"version": 0}, {"role": "unit", "sub": "U001"}, 403, ""),
        (PLAN | {"version": 4}, {}, 409, "at version 0, not 4"),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for body, auth, status, named in cases:
            answer = await put_plan(client, stack, ns, body, **auth)
            assert answer.status_code == status, (body, answer.text)
            assert named in answer.text
        unknown = await client.put(
            f"{stack['patrols'].url}/v1/schools/NOPE/plan",
            json=PLAN | {"version": 0},
            headers=ns.auth("supervisor", "li.supervisor"),
        )
        assert unknown.status_code == 404 and "NOPE" in unknown.text
        assert await versions(client, stack, ns) == []
        none = await client.get(
            f"{stack['patrols'].url}/v1/schools/{SCHOOL}/plan", headers=ns.auth("unit", "U001")
        )
        assert none.status_code == 404
    assert await end_offsets(KAFKA_BOOTSTRAP, ns.topics.patrols_school_plans) == before


async def test_the_next_alarm_carries_the_newest_version_saved_while_notifications_was_down(
    stack: Stack, e2e_namespace: Namespace, mongo: Client
) -> None:
    ns = e2e_namespace
    notifications = stack["notifications"]
    async with httpx.AsyncClient(timeout=15) as client:
        first = await put_plan(client, stack, ns, PLAN | {"version": 0})
        assert first.status_code == 200 and first.json()["version"] == 1, first.text
        again = await put_plan(client, stack, ns, PLAN | {"version": 0})  # a retry
        assert again.status_code == 200 and again.json() == first.json()
        stale = await put_plan(client, stack, ns, PLAN | {"version": 0, "risks": ["别的"]})
        assert stale.status_code == 409 and "at version 1" in stale.json()["detail"]

        notifications.kill()  # the plan's next versions wait in Kafka
        for version in (1, 2):
            saved = await put_plan(
                client, stack, ns, PLAN | {"version": version, "risks": [f"第{version + 1}版风险"]}
            )
            assert saved.status_code == 200, saved.text
        notifications.start()
        await asyncio.to_thread(notifications.wait_ready)
        assert await versions(client, stack, ns) == [1, 2, 3], "each version once"

        plans = ns.database(mongo, "notifications")["school_plans"]  # type: ignore[index]
        await wait_for(lambda: plans.find_one({"_id": SCHOOL, "version": 3}))
        pressed = await post_press(
            client,
            stack["alarms"].url,
            ns.device_seed,
            press_body(school_id=SCHOOL, device_id=f"{SCHOOL}-BTN1"),
        )
        assert pressed.status_code == 202, pressed.text
        alarm_id = pressed.json()["alarm_id"]

        async def entry() -> dict[str, Any] | None:
            feed = await client.get(
                f"{notifications.url}/v1/dispatcher/feed", headers=ns.auth("dispatcher", "d")
            )
            found = [e for e in feed.json() if e.get("alarm_id") == alarm_id]
            return found[0] if found else None

        raised = await wait_for(entry)
    assert raised["plan_version"] == 3 and raised["plan"]["risks"] == ["第3版风险"]
    assert raised["plan"]["contacts"] == PLAN["contacts"]
    assert await plans.count_documents({"_id": SCHOOL}) == 1
