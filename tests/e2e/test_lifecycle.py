"""The alarm lifecycle over HTTP: dispatcher and unit commands with their roles, folding,
replays, the per-device rate limit, and a deadline that fires once after a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import post_press, press_body, read_topic, wait_for
from tools.stack import Stack

ACK_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, str]:
    return {"ACK_TIMEOUT_S": str(ACK_TIMEOUT_S), "ESCALATION_STEP_S": "600", "PRESS_BURST": "3"}


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    """The alarm's lifecycle alone: no notifications to dispatch or escalate it meanwhile."""
    return ("alarms",)


async def press(
    client: httpx.AsyncClient, stack: Stack, ns: Namespace, body: dict[str, Any]
) -> httpx.Response:
    return await post_press(client, stack["alarms"].url, ns.device_seed, body)


async def raised(
    client: httpx.AsyncClient, stack: Stack, ns: Namespace, school: str, **fields: Any
) -> str:
    response = await press(
        client, stack, ns, press_body(school_id=school, device_id=f"{school}-BTN1", **fields)
    )
    assert response.status_code == 202, response.text
    alarm_id = str(response.json()["alarm_id"])
    await wait_for(lambda: _exists(client, stack, ns, alarm_id))
    return alarm_id


async def _exists(client: httpx.AsyncClient, stack: Stack, ns: Namespace, alarm_id: str) -> bool:
    response = await client.get(
        f"{stack['alarms'].url}/v1/alarms/{alarm_id}", headers=ns.auth("dispatcher", "d")
    )
    return response.status_code == 200


async def test_dispatcher_and_units_drive_an_alarm_to_resolved(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    url = stack["alarms"].url
    alice, u5, u6 = ns.auth("dispatcher", "alice"), ns.auth("unit", "U005"), ns.auth("unit", "U006")
    async with httpx.AsyncClient(timeout=15) as client:
        alarm_id = await raised(client, stack, ns, "S020")

        async def act(
            action: str, headers: dict[str, str], body: dict[str, Any] | None = None
        ) -> httpx.Response:
            return await client.post(
                f"{url}/v1/alarms/{alarm_id}/{action}", json=body or {}, headers=headers
            )

        assert (await act("acknowledge", u5)).status_code == 403, "a unit cannot acknowledge"
        ack = await act("acknowledge", alice)
        assert ack.status_code == 200 and ack.json()["state"] == "acknowledged", ack.text
        again = await act("acknowledge", alice)
        assert (
            again.status_code == 409
            and again.json()["reason"] == "cannot acknowledge an alarm that is acknowledged"
        )
        assert (await act("assign", alice, {"unit_id": "NOPE"})).status_code == 422
        assert (await act("assign", alice, {"unit_id": "U005"})).json()["state"] == "unit_assigned"
        other = await act("en-route", u6)
        assert other.status_code == 403 and "not the assigned unit" in other.json()["reason"]
        assert (await act("en-route", u5)).json()["state"] == "en_route"
        early = await act("resolve", u5, {"outcome": "handled"})
        assert early.status_code == 409 and early.json()["reason"] == (
            "a unit resolves only once on scene"
        )
        assert (await act("on-scene", u5)).json()["state"] == "on_scene"
        assert (await act("resolve", alice, {"outcome": "nonsense"})).status_code == 422
        assert (await act("resolve", u6, {"outcome": "handled"})).status_code == 403
        done = await act("resolve", u5, {"outcome": "handled", "reason": "suspect detained"})
        assert done.status_code == 200 and done.json()["state"] == "resolved"
        closed = await act("cancel", alice, {"outcome": "false_alarm"})
        assert closed.status_code == 409 and closed.json()["reason"] == "alarm is resolved"

        detail = (await client.get(f"{url}/v1/alarms/{alarm_id}", headers=alice)).json()
        assert [(t["state"], t["actor"]) for t in detail["timeline"]] == [
            ("raised", "system"),
            ("acknowledged", "alice"),
            ("unit_assigned", "alice"),
            ("en_route", "U005"),
            ("on_scene", "U005"),
            ("resolved", "U005"),
        ]
        assert (
            detail["outcome"] == "handled"
            and detail["timeline"][-1]["reason"] == "suspect detained"
        )
        assert (await client.get(f"{url}/v1/alarms/{alarm_id}", headers=u6)).status_code == 403
        assert (await client.get(f"{url}/v1/alarms/{alarm_id}", headers=u5)).status_code == 200
        listed = await client.get(
            f"{url}/v1/alarms", params={"open": "true", "school_id": "S020"}, headers=alice
        )
        assert listed.status_code == 200 and listed.json() == []
        assert (await client.get(f"{url}/v1/alarms", headers=u5)).status_code == 403


async def test_presses_from_two_devices_fold_into_one_alarm_of_higher_severity(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    async with httpx.AsyncClient(timeout=15) as client:
        first = await raised(client, stack, ns, "S021")
        second = await press(client, stack, ns, press_body(school_id="S021", device_id="S021-BTN2"))
        assert second.status_code == 202
        folded_id = second.json()["alarm_id"]
        assert folded_id != first

        async def folded() -> dict[str, Any] | None:
            response = await client.get(
                f"{stack['alarms'].url}/v1/alarms/{folded_id}", headers=ns.auth("dispatcher", "d")
            )
            body = response.json() if response.status_code == 200 else None
            folded_in = body is not None and any(t["change"] == "folded" for t in body["timeline"])
            return body if folded_in and body["press_count"] == 2 else None

        alarm = await wait_for(folded)
    assert alarm["alarm_id"] == first and alarm["severity"] == 2
    assert alarm["devices"] == ["S021-BTN1", "S021-BTN2"] and folded_id in alarm["press_alarm_ids"]
    # (the 2 s acknowledgement deadline of this module may add an escalation in between)
    timeline = [(t["state"], t["change"]) for t in alarm["timeline"]]
    assert timeline[0] == ("raised", "transition")
    assert [change for _, change in timeline].count("folded") == 1


async def test_a_flood_of_presses_from_one_button_gets_429(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    """(An exact replay gets the same answer: test_alarm_path.)"""
    ns = e2e_namespace
    async with httpx.AsyncClient(timeout=15) as client:
        statuses = [
            (
                await press(client, stack, ns, press_body(school_id="S022", device_id="S022-BTN1"))
            ).status_code
            for _ in range(5)
        ]
    assert statuses[:3] == [202, 202, 202], statuses  # a burst of 3 per device in this module
    assert statuses[-1] == 429, statuses


async def test_an_overdue_acknowledgement_escalates_once_after_a_restart(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    alarms = stack["alarms"]
    async with httpx.AsyncClient(timeout=15) as client:
        alarm_id = await raised(client, stack, ns, "S023")
        alarms.kill()
        await asyncio.sleep(ACK_TIMEOUT_S + 1.5)  # the deadline passes while the service is down
        alarms.start()
        alarms.wait_ready()

        async def escalated() -> dict[str, Any] | None:
            response = await client.get(
                f"{alarms.url}/v1/alarms/{alarm_id}", headers=ns.auth("dispatcher", "d")
            )
            body: dict[str, Any] = response.json()
            return body if body["state"] == "escalated" else None

        alarm = await wait_for(escalated)
        await asyncio.sleep(2.0)  # a second firing would land by now
    assert alarm["escalation_level"] == 1
    events = [
        e
        for e in await read_topic(KAFKA_BOOTSTRAP, ns.topics.alarms_lifecycle)
        if e["alarm_id"] == alarm_id and e["state"] == "escalated"
    ]
    assert len({e["event_id"] for e in events}) == 1
    assert events[0]["reason"] == "no_acknowledgement" and events[0]["actor"] == "timer"
