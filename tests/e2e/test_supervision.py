"""Button supervision end to end (DESIGN §5.4), on the real broker and database, with short
settings: a button that stops beating is an `offline` trouble on the dispatcher stream within
the limit, and its press still raises an alarm and restores it; a low battery is repeated on
its period; a tamper is raised at once; a restart of the alarms service raises nothing for
buttons that kept beating."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.settings import ROOT
from tests.conftest import Namespace
from tests.helpers import SseReader, heartbeat_body, post_heartbeat, post_press, press_body
from tools.stack import Stack

OFFLINE_AFTER_S = 4.0
BEAT_EVERY_S = 1.0
REPEAT_S = 3.0
SCHOOLS = ("S001", "S002")
DEVICES = ("S001-BTN1", "S001-BTN2", "S002-BTN1")


@pytest.fixture(scope="module")
def county_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample county cut to two schools and their three buttons."""
    county = yaml.safe_load((ROOT / "deploy" / "county.yaml").read_text())
    small = {
        "name": county["name"],
        "schools": [s for s in county["schools"] if s["school_id"] in SCHOOLS],
        "devices": [d for d in county["devices"] if d["device_id"] in DEVICES],
        "units": county["units"][:2],
        "patrol_points": [p for p in county["patrol_points"] if p["school_id"] in SCHOOLS],
    }
    path = tmp_path_factory.mktemp("county") / "county.yaml"
    path.write_text(yaml.safe_dump(small, allow_unicode=True))
    return path


@pytest.fixture(scope="module")
def stack_overrides(county_file: Path) -> dict[str, str]:
    return {
        "COUNTY_FILE": str(county_file),
        "HEARTBEAT_EVERY_S": str(int(BEAT_EVERY_S)),
        "OFFLINE_AFTER_S": str(OFFLINE_AFTER_S),
        "TROUBLE_REPEAT_S": str(REPEAT_S),
        "SUPERVISION_ROUND_S": "0.5",
    }


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("alarms", "notifications")


class Beater:
    """Buttons that beat every BEAT_EVERY_S, each with the body it is given, until told to
    stop; failures while alarms restarts are counted, not fatal."""

    def __init__(self, client: httpx.AsyncClient, url: str, ns: Namespace) -> None:
        self.client, self.url, self.ns = client, url, ns
        self.bodies: dict[str, dict[str, Any]] = {}
        self.refused = 0

    async def run(self) -> None:
        while True:
            for device, body in list(self.bodies.items()):
                try:
                    answer = await post_heartbeat(
                        self.client, self.url, self.ns.device_seed, device, heartbeat_body(**body)
                    )
                    assert answer.status_code == 200, answer.text
                    assert answer.json() == {"next_in_s": int(BEAT_EVERY_S)}
                except httpx.TransportError:
                    self.refused += 1
            await asyncio.sleep(BEAT_EVERY_S)


@contextlib.asynccontextmanager
async def beating(
    client: httpx.AsyncClient, stack: Stack, ns: Namespace, devices: Iterable[str]
) -> AsyncIterator[Beater]:
    beater = Beater(client, stack["alarms"].url, ns)
    beater.bodies = {device: {} for device in devices}
    task = asyncio.create_task(beater.run())
    try:
        yield beater
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def trouble(event: dict[str, Any]) -> tuple[str, str, str] | None:
    if event.get("event") != "device_trouble":
        return None
    data = event["data"]
    return (data["device_id"], data["kind"], data["status"])


async def test_silence_low_battery_and_tamper_become_troubles_and_restorals(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    url = f"{stack['notifications'].url}/v1/dispatcher/stream?last_event_id=0"
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("GET", url, headers=ns.auth("dispatcher", "alice"), timeout=60) as sse,
        beating(client, stack, ns, DEVICES) as beater,
    ):
        assert sse.status_code == 200
        reader = SseReader(sse)
        seen: list[tuple[str, str, str]] = []

        async def until(wanted: tuple[str, str, str], timeout_s: float) -> None:
            event = await reader.until(lambda e: trouble(e) == wanted, timeout_s=timeout_s)
            seen.append(wanted)
            assert int(event["id"]) == event["data"]["seq"]

        # a tamper at once
        beater.bodies["S002-BTN1"] = {"tamper": True}
        await until(("S002-BTN1", "tamper", "raised"), timeout_s=5)
        beater.bodies["S002-BTN1"] = {}
        await until(("S002-BTN1", "tamper", "restored"), timeout_s=5)

        # silence: offline within the limit (plus a round and a beat), restored when back
        del beater.bodies["S001-BTN2"]
        started = asyncio.get_running_loop().time()
        await until(("S001-BTN2", "offline", "raised"), timeout_s=OFFLINE_AFTER_S + 4)
        took = asyncio.get_running_loop().time() - started
        assert OFFLINE_AFTER_S - 2 * BEAT_EVERY_S <= took <= OFFLINE_AFTER_S + 3, took
        # a press from the button in trouble still raises its alarm, and proves it alive
        press = press_body(school_id="S001", device_id="S001-BTN2", test=True)
        pressed = await post_press(client, stack["alarms"].url, ns.device_seed, press)
        assert pressed.status_code == 202, pressed.text
        alarm_id = pressed.json()["alarm_id"]
        raised = await reader.until(lambda e: e["data"].get("alarm_id") == alarm_id)
        assert raised["event"] == "raised"
        await until(("S001-BTN2", "offline", "restored"), timeout_s=5)
        beater.bodies["S001-BTN2"] = {}

        # a battery low, repeated on its period while it lasts, then restored
        beater.bodies["S001-BTN1"] = {"battery_pct": 8}
        await until(("S001-BTN1", "battery_low", "raised"), timeout_s=5)
        event = await reader.until(
            lambda e: trouble(e) == ("S001-BTN1", "battery_low", "repeated"),
            timeout_s=REPEAT_S + 3,
        )
        assert event["data"]["count"] == 2 and event["data"]["battery_pct"] == 8
        beater.bodies["S001-BTN1"] = {"battery_pct": 100}
        await until(("S001-BTN1", "battery_low", "restored"), timeout_s=5)

    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(
            f"{stack['alarms'].url}/v1/devices",
            params={"in_trouble": "false"},
            headers=ns.auth("dispatcher", "alice"),
        )
    assert answer.status_code == 200
    health = {d["device_id"]: d for d in answer.json()}
    assert set(health) == set(DEVICES)
    assert all(d["troubles"] == {} for d in health.values()), health
    assert health["S001-BTN1"]["beat"]["battery_pct"] == 100
    assert "outbox" not in health["S001-BTN1"]


async def test_a_restart_of_alarms_raises_nothing_for_buttons_that_kept_beating(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    async with (
        httpx.AsyncClient(timeout=10) as client,
        beating(client, stack, ns, DEVICES) as beater,
    ):
        await asyncio.sleep(2 * BEAT_EVERY_S)  # every button heard
        feed_before = await _troubles(client, stack, ns)
        stack["alarms"].stop()
        await asyncio.sleep(OFFLINE_AFTER_S + 1)  # down longer than the limit
        stack["alarms"].start()
        stack["alarms"].wait_ready()
        await asyncio.sleep(OFFLINE_AFTER_S + 3)  # past the limit after the restart
        assert beater.refused > 0, "the beats failed while alarms was down"
        assert await _troubles(client, stack, ns) == feed_before, "no trouble raised"


async def _troubles(client: httpx.AsyncClient, stack: Stack, ns: Namespace) -> list[Any]:
    answer = await client.get(
        f"{stack['notifications'].url}/v1/dispatcher/feed",
        params={"limit": 1000},
        headers=ns.auth("dispatcher", "alice"),
    )
    assert answer.status_code == 200
    return [e for e in answer.json() if e.get("entry_type") == "device_trouble"]
