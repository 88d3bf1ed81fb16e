"""Nothing accepted is lost, and nothing is done twice, across a kill of the alarms service."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import encode, press_body, read_topic, signed_headers, wait_for
from tools.stack import Stack

Client = AsyncMongoClient[dict[str, Any]]
# One school per press: presses at a school with an open alarm fold into it (tested elsewhere).
FIRST_SCHOOLS = [f"S{n:03d}" for n in range(1, 9)]
FLOW_SCHOOLS = [f"S{n:03d}" for n in range(9, 61)]


async def send_presses(
    stack: Stack, ns: Namespace, client: httpx.AsyncClient, count: int
) -> list[str]:
    """`count` presses from different schools; returns the alarm ids (all must get 202)."""

    async def one(i: int) -> str:
        school = FIRST_SCHOOLS[i]
        raw = encode(press_body(school_id=school, device_id=f"{school}-BTN1"))
        response = await client.post(
            f"{stack['alarms'].url}/v1/alarms",
            content=raw,
            headers=signed_headers(ns.device_secret(f"{school}-BTN1"), f"{school}-BTN1", raw),
        )
        assert response.status_code == 202, response.text
        return str(response.json()["alarm_id"])

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def feed_counts(stack: Stack, ns: Namespace, client: httpx.AsyncClient) -> Counter[str]:
    response = await client.get(
        f"{stack['notifications'].url}/v1/dispatcher/feed",
        params={"limit": 1000},
        headers=ns.auth("dispatcher", "alice"),
    )
    assert response.status_code == 200
    return Counter(e["alarm_id"] for e in response.json() if e["state"] == "raised")


async def assert_each_raised_once(
    stack: Stack, ns: Namespace, client: httpx.AsyncClient, mongo: Client, alarm_ids: list[str]
) -> None:
    async def all_in_feed() -> bool:
        counts = await feed_counts(stack, ns, client)
        return all(counts[a] >= 1 for a in alarm_ids)

    await wait_for(all_in_feed, timeout_s=60)
    counts = await feed_counts(stack, ns, client)
    assert {a: counts[a] for a in alarm_ids} == dict.fromkeys(alarm_ids, 1)
    alarms = mongo[f"{ns.db_prefix}alarms"]["alarms"]
    assert await alarms.count_documents({"_id": {"$in": alarm_ids}}) == len(alarm_ids)
    # The broker may hold a `raised` twice after a crash; it is the same event (same id).
    lifecycle = await read_topic(KAFKA_BOOTSTRAP, ns.topics.alarms_lifecycle)
    ids_per_alarm: dict[str, set[str]] = {}
    for event in lifecycle:
        if event["alarm_id"] in alarm_ids and event["state"] == "raised":
            ids_per_alarm.setdefault(event["alarm_id"], set()).add(event["event_id"])
    assert {len(ids) for ids in ids_per_alarm.values()} == {1}
    assert set(ids_per_alarm) == set(alarm_ids)


async def test_presses_accepted_while_the_consumer_is_down_are_raised_after_restart(
    stack: Stack, e2e_namespace: Namespace, mongo: Client
) -> None:
    ns = e2e_namespace
    alarms = stack["alarms"]
    alarms.stop()
    alarms.start(CONSUMERS_ENABLED="false")  # ingress only: presses accepted, none processed
    alarms.wait_ready()
    async with httpx.AsyncClient(timeout=15) as client:
        alarm_ids = await send_presses(stack, ns, client, 8)
        await asyncio.sleep(0.5)
        counts = await feed_counts(stack, ns, client)
        assert sum(counts[a] for a in alarm_ids) == 0
        alarms.kill()
        alarms.start()
        alarms.wait_ready()
        await assert_each_raised_once(stack, ns, client, mongo, alarm_ids)


async def test_sigkill_while_presses_and_commands_flow_then_each_is_done_once(
    stack: Stack, e2e_namespace: Namespace, mongo: Client
) -> None:
    """Presses and acknowledgements keep coming while the service is killed; devices and
    dispatchers retry what got no answer (same press_id, same command_id)."""
    ns = e2e_namespace
    alarms = stack["alarms"]
    bodies = [press_body(school_id=s, device_id=f"{s}-BTN1") for s in FLOW_SCHOOLS]
    answers: dict[str, str] = {}  # press_id -> alarm_id, for presses that got a 202
    command_ids: dict[str, str] = {}  # alarm_id -> the one acknowledge command for it
    acknowledged: dict[str, dict[str, Any]] = {}
    dispatcher = ns.auth("dispatcher", "alice")

    async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
        raw = encode(body)
        device = body["device_id"]
        try:
            response = await client.post(
                f"{alarms.url}/v1/alarms",
                content=raw,
                headers=signed_headers(ns.device_secret(device), device, raw),
            )
        except httpx.TransportError:
            return  # no answer: the device will retry
        if response.status_code == 202:
            answers[body["press_id"]] = response.json()["alarm_id"]

    async def acknowledge(client: httpx.AsyncClient, alarm_id: str) -> None:
        command_id = command_ids.setdefault(alarm_id, str(uuid.uuid4()))
        try:
            response = await client.post(
                f"{alarms.url}/v1/alarms/{alarm_id}/acknowledge",
                json={"command_id": command_id},
                headers=dispatcher,
            )
        except httpx.TransportError:
            return  # the dispatcher will click again (same command id)
        if response.status_code == 200:
            acknowledged[alarm_id] = response.json()
        elif response.status_code not in (202, 404):  # pending, or not raised yet
            raise AssertionError(response.text)

    async with httpx.AsyncClient(timeout=15) as client:
        stop = asyncio.Event()

        async def press_flow() -> None:
            for body in bodies:
                await post(client, body)
                await asyncio.sleep(0.1)  # a school a moment: the kill lands mid-flow

        async def ack_flow() -> None:
            while not stop.is_set():
                pending = [a for a in answers.values() if a not in acknowledged]
                await asyncio.gather(*(acknowledge(client, a) for a in pending[:10]))
                await asyncio.sleep(0.05)

        pressing = asyncio.create_task(press_flow())
        acking = asyncio.create_task(ack_flow())
        await wait_for(lambda: _at_least(acknowledged, len(bodies) // 4))
        assert not pressing.done(), "the presses should still be flowing when it is killed"
        alarms.kill()
        await pressing
        unanswered = [b for b in bodies if b["press_id"] not in answers]
        assert unanswered, "the kill should have interrupted the presses"
        alarms.start()
        alarms.wait_ready()
        for body in unanswered:  # the devices retry with the same press_id
            await post(client, body)
        assert len(answers) == len(bodies)
        await wait_for(lambda: _at_least(acknowledged, len(bodies)), timeout_s=90)
        stop.set()
        await acking
        alarm_ids = list(answers.values())
        await assert_each_raised_once(stack, ns, client, mongo, alarm_ids)

    assert {r["status"] for r in acknowledged.values()} == {"applied"}
    assert {r["command_id"] for r in acknowledged.values()} == set(command_ids.values())
    lifecycle = await read_topic(KAFKA_BOOTSTRAP, ns.topics.alarms_lifecycle)
    acks: dict[str, set[str]] = {}
    for event in lifecycle:
        if event["state"] == "acknowledged":
            acks.setdefault(event["alarm_id"], set()).add(event["event_id"])
    assert set(acks) == set(alarm_ids)
    assert {len(ids) for ids in acks.values()} == {1}, "each command applied once"


async def _at_least(answers: dict[str, Any], n: int) -> bool:
    return len(answers) >= n


async def test_every_service_restarts_on_its_own_data(stack: Stack) -> None:
    """A graceful stop (SIGTERM) and a start on the same databases and topics: indexes,
    provisioning and consumer groups are all re-entered, not recreated."""
    for service in stack.services.values():
        code = service.stop()  # uvicorn re-raises SIGTERM once shut down: -15, or 0
        assert code in (0, -signal.SIGTERM), f"{service.name} exited {code}:\n{service.tail()}"
        assert "Application shutdown complete" in service.tail(5), service.tail()
        service.start()
    for service in stack.services.values():
        service.wait_ready()
