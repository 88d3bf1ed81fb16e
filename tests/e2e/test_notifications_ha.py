"""Two notifications and two alarms instances on the real broker and database: dispatchers on
either see the same feed; one killed mid-burst, its dispatcher resumes on the other and misses
nothing, gets nothing twice. The loop with alarms: a unit's acceptance assigns it, the school is
told once, nobody in range escalates."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.geo import haversine_m
from shared.provisioning import load_county
from shared.settings import ROOT
from tests.conftest import Namespace
from tests.e2e.test_alarm_path import post_fixes
from tests.helpers import post_press, press_body, signed_headers, wait_for
from tools.stack import ServiceProcess, Stack

COUNTY = load_county(ROOT / "deploy" / "county.yaml")
LOG_KEEP = 16  # small, so that a position older than what is kept can be tried
# 60 schools in the sample county: each test presses at its own, so that none folds into
# another test's open alarm
BURST_SCHOOLS = [s.school_id for s in COUNTY.schools[0:24]]
RESET_SCHOOLS = [s.school_id for s in COUNTY.schools[24 : 24 + LOG_KEEP + 2]]
NEAR_SCHOOL = "S050"


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("alarms", "patrols", "notifications")


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, str]:
    return {"LOG_KEEP": str(LOG_KEEP)}


@pytest.fixture(scope="module")
def replicas(stack: Stack) -> Iterator[dict[str, ServiceProcess]]:
    """A second alarms and a second notifications instance beside the stack's."""
    second = {name: stack.replica(name, 2) for name in ("alarms", "notifications")}
    try:
        for process in second.values():
            process.start()
        for process in second.values():
            process.wait_ready(90)
        yield second
    finally:
        for process in second.values():
            process.stop()


class Dispatcher:
    """A dispatcher's stream client: follows one instance, and on a drop resumes on the next
    with the last id it saw, as a browser's EventSource does."""

    def __init__(self, client: httpx.AsyncClient, ns: Namespace, name: str) -> None:
        self.client, self.ns, self.name = client, ns, name
        self.events: list[dict[str, Any]] = []
        self.connected = asyncio.Event()
        self.dropped_at: float | None = None

    async def follow(self, urls: list[str]) -> None:
        last: str | None = None
        for url in urls:
            headers = self.ns.auth("dispatcher", self.name)
            if last is not None:
                headers["Last-Event-ID"] = last
            try:
                async with self.client.stream(
                    "GET", f"{url}/v1/dispatcher/stream", headers=headers, timeout=None
                ) as sse:
                    assert sse.status_code == 200
                    async for event in _events(sse):
                        self.connected.set()
                        if "id" in event and "data" in event:
                            self.events.append(event)
                            last = event["id"]
            except httpx.HTTPError:
                pass  # the instance went away: resume on the next one
            self.dropped_at = time.monotonic()

    def raised(self) -> set[str]:
        return {e["data"]["alarm_id"] for e in self.events if e["event"] == "raised"}

    def ids(self) -> list[int]:
        return [int(e["id"]) for e in self.events]


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Server-Sent Events as dicts (`retry` and keepalives included: they show the stream is
    open)."""
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if event:
                yield event
            event = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        event[field] = value.removeprefix(" ")
        if field == "data":
            event["data"] = json.loads(event["data"])


async def test_a_dispatcher_moved_to_another_instance_misses_nothing_and_gets_nothing_twice(
    stack: Stack, replicas: dict[str, ServiceProcess], e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    first, second = stack["notifications"], replicas["notifications"]
    ingress = [stack["alarms"].url, replicas["alarms"].url]
    schools = BURST_SCHOOLS
    async with httpx.AsyncClient(timeout=15) as client:
        moved, stayed = Dispatcher(client, ns, "moved"), Dispatcher(client, ns, "stayed")
        readers = [
            asyncio.create_task(moved.follow([first.url, second.url])),
            asyncio.create_task(stayed.follow([second.url])),
        ]
        try:
            await asyncio.wait_for(moved.connected.wait(), 10)
            await asyncio.wait_for(stayed.connected.wait(), 10)
            pressed: list[str] = []
            for i, school in enumerate(schools):
                body = press_body(school_id=school, device_id=f"{school}-BTN1")
                answer = await post_press(client, ingress[i % 2], ns.device_seed, body)
                assert answer.status_code == 202, answer.text
                pressed.append(answer.json()["alarm_id"])
                if i == len(schools) // 2:
                    first.kill()  # SIGKILL: mid-burst, with its share of alarms in hand
                    killed_at = time.monotonic()
                await asyncio.sleep(0.05)

            async def everything_seen() -> bool:
                """Each alarm raised, then escalated (no unit is anywhere), on both clients."""
                return all(
                    sum(e["data"]["alarm_id"] == a for e in d.events) >= 2
                    for d in (moved, stayed)
                    for a in pressed
                )

            await wait_for(everything_seen, timeout_s=90)
            caught_up = time.monotonic()
            await asyncio.sleep(1.0)  # anything twice would have come by now
        finally:
            for reader in readers:
                reader.cancel()
            first.start()
            first.wait_ready(90)

    assert moved.dropped_at is not None and moved.dropped_at >= killed_at
    assert moved.raised() == stayed.raised() == set(pressed), "every press, once, on both"
    assert moved.ids() == stayed.ids(), "the same feed, in the same order, on either instance"
    assert moved.ids() == sorted(set(moved.ids())), "no entry twice, positions only grow"
    identities = [e["data"]["event_id"] for e in moved.events]
    assert len(identities) == len(set(identities))
    for alarm in pressed:
        states = [e["event"] for e in moved.events if e["data"]["alarm_id"] == alarm]
        assert states[0] == "raised", "one alarm's entries in order"
    print(f"\nfailover: every entry on the other instance {caught_up - killed_at:.1f} s after kill")


async def test_a_position_older_than_what_is_kept_gets_a_reset_not_a_gap(
    stack: Stack, replicas: dict[str, ServiceProcess], e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    url = replicas["notifications"].url
    async with httpx.AsyncClient(timeout=15) as client:
        for school in RESET_SCHOOLS:
            body = press_body(school_id=school, device_id=f"{school}-BTN1", test=True)
            assert (await post_press(client, stack["alarms"].url, ns.device_seed, body)).is_success

        async def kept_from() -> int | None:
            feed = await client.get(
                f"{url}/v1/dispatcher/feed",
                params={"limit": 1000},
                headers=ns.auth("dispatcher", "d"),
            )
            positions = [e["seq"] for e in feed.json()]
            return max(positions) if len(positions) > LOG_KEEP + 1 else None

        newest = await wait_for(kept_from, timeout_s=60)
        headers = ns.auth("dispatcher", "d") | {"Last-Event-ID": "1"}
        async with client.stream(
            "GET", f"{url}/v1/dispatcher/stream", headers=headers, timeout=15
        ) as sse:
            async for event in _events(sse):
                if "data" in event:
                    break
        garbage = await client.get(
            f"{url}/v1/dispatcher/stream",
            headers=ns.auth("dispatcher", "d") | {"Last-Event-ID": "9" * 30},
        )
    assert event["event"] == "reset", "never a silent gap"
    assert int(event["id"]) == event["data"]["position"] >= newest
    assert garbage.status_code == 422 and "position" in garbage.text


def farthest_school_from(school_id: str) -> str:
    """Of the schools no other test here presses at: some 34 km away, past every widening."""
    origin = COUNTY.school(school_id)
    assert origin is not None
    return max(
        COUNTY.schools[24 + LOG_KEEP + 2 :],
        key=lambda s: haversine_m(origin.lat, origin.lon, s.lat, s.lon),
    ).school_id


async def test_a_unit_accepting_its_order_is_assigned_and_the_school_told_once(
    stack: Stack, replicas: dict[str, ServiceProcess], e2e_namespace: Namespace
) -> None:
    """The press enters on one alarms instance; the unit's stream and the dispatcher's are on
    different notifications instances; the unit accepts on a third URL (the first instance)."""
    ns = e2e_namespace
    near_school, unit = COUNTY.school(NEAR_SCHOOL), "U030"
    assert near_school is not None
    far_school = farthest_school_from(NEAR_SCHOOL)
    assert far_school != NEAR_SCHOOL
    n1, n2 = stack["notifications"].url, replicas["notifications"].url
    async with httpx.AsyncClient(timeout=15) as client:
        fix = {
            "lat": near_school.lat + 0.002,
            "lon": near_school.lon,
            "recorded_at": datetime.now(UTC).isoformat(),
        }
        await post_fixes(stack, ns, client, unit, [fix])

        async def on_both_boards() -> bool:
            """Each instance ranks from its own board (fed by the group, merged every 2 s)."""
            for url in (n1, n2):
                board = await client.get(
                    f"{url}/v1/dispatcher/map", headers=ns.auth("dispatcher", "d")
                )
                if unit not in {u["unit_id"] for u in board.json()["units"]}:
                    return False
            return True

        await wait_for(on_both_boards, timeout_s=30)

        dispatcher = Dispatcher(client, ns, "alice")
        watching = asyncio.create_task(dispatcher.follow([n1]))
        async with client.stream(
            "GET",
            f"{n2}/v1/units/{unit}/orders/stream",
            headers=ns.auth("unit", unit),
            timeout=None,
        ) as orders:
            await asyncio.wait_for(dispatcher.connected.wait(), 10)
            body = press_body(school_id=NEAR_SCHOOL, device_id=f"{NEAR_SCHOOL}-BTN1", silent=False)
            answer = await post_press(client, replicas["alarms"].url, ns.device_seed, body)
            alarm_id = answer.json()["alarm_id"]
            async for event in _events(orders):
                if event.get("event") == "order":
                    order = event["data"]
                    break
        assert (order["alarm_id"], order["unit_id"], order["rank"]) == (alarm_id, unit, 1)

        def states(alarm: str) -> list[str]:
            return [e["event"] for e in dispatcher.events if e["data"]["alarm_id"] == alarm]

        await wait_for(lambda: _true("dispatched" in states(alarm_id)))
        ack = await client.post(
            f"{n1}/v1/units/{unit}/orders/{order['order_id']}/ack", headers=ns.auth("unit", unit)
        )
        assert ack.status_code == 200 and ack.json()["state"] == "acknowledged", ack.text
        await wait_for(lambda: _true("unit_assigned" in states(alarm_id)))
        assigned = next(e for e in dispatcher.events if e["event"] == "unit_assigned")
        assert assigned["data"]["assigned_unit"] == unit

        async def told(button: str) -> list[dict[str, Any]]:
            signed = signed_headers(ns.device_secret(button), button, b"")
            url = f"{n2}/v1/devices/{button}/messages"
            return list((await client.get(url, headers=signed)).json())

        (message,) = await wait_for(lambda: told(f"{NEAR_SCHOOL}-BTN1"))
        assert unit in message["text"] and message["distance_m"] > 0

        # the console's commands go on the bus; a refusal comes back on the stream, with why
        console = f"{n2}/v1/dispatcher/alarms/{alarm_id}"
        alice = ns.auth("dispatcher", "alice")
        sent = await client.post(f"{console}/acknowledge", json={}, headers=alice)
        assert sent.status_code == 202, sent.text
        command_id = sent.json()["command_id"]

        async def refusal() -> dict[str, Any] | None:
            return next(
                (e for e in dispatcher.events if e["data"].get("command_id") == command_id), None
            )

        refused = (await wait_for(refusal))["data"]
        assert refused["change"] == "refused" and refused["actor"] == "alice"
        assert refused["reason"] == "cannot acknowledge an alarm that is unit_assigned"
        bad = await client.post(f"{console}/assign", json={"unit_id": "NOPE"}, headers=alice)
        assert bad.status_code == 422 and "unknown unit NOPE" in bad.text
        bad = await client.post(f"{console}/resolve", json={"outcome": "maybe"}, headers=alice)
        assert bad.status_code == 422 and "outcome" in bad.text
        bad = await client.post(f"{console}/resolve", content=b"{", headers=alice)
        assert bad.status_code == 422
        unknown = f"{n2}/v1/dispatcher/alarms/{uuid.uuid4()}/acknowledge"
        assert (await client.post(unknown, json={}, headers=alice)).status_code == 404
        as_unit = await client.post(
            f"{console}/acknowledge", json={}, headers=ns.auth("unit", unit)
        )
        assert as_unit.status_code == 403

        # nobody anywhere near: escalated, and a dispatcher's own assignment tells the school
        body = press_body(school_id=far_school, device_id=f"{far_school}-BTN1")
        far = (await post_press(client, stack["alarms"].url, ns.device_seed, body)).json()
        await wait_for(lambda: _true("escalated" in states(far["alarm_id"])))
        escalated = next(
            e
            for e in dispatcher.events
            if e["data"]["alarm_id"] == far["alarm_id"] and e["event"] == "escalated"
        )
        assert escalated["data"]["reason"] == "no_unit_in_range"
        assign = await client.post(
            f"{stack['alarms'].url}/v1/alarms/{far['alarm_id']}/assign",
            json={"unit_id": "U031"},
            headers=ns.auth("dispatcher", "alice"),
        )
        assert assign.status_code == 200, assign.text
        (far_message,) = await wait_for(lambda: told(f"{far_school}-BTN1"))
        assert "U031" in far_message["text"] and far_message["distance_m"] is None
        await asyncio.sleep(1.0)
        assert len(await told(f"{NEAR_SCHOOL}-BTN1")) == len(await told(f"{far_school}-BTN1")) == 1
        watching.cancel()


async def _true(value: bool) -> bool:
    return value
