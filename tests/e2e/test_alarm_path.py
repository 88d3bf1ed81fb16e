"""The thin real path: signed press → alarms → Kafka → notifications → dispatcher stream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from shared.provisioning import School, load_county
from shared.settings import ROOT
from tests.conftest import Namespace
from tests.helpers import SseReader, post_press, press_body, wait_for
from tools.stack import Stack

COUNTY = load_county(ROOT / "deploy" / "county.yaml")


def sample_school(school_id: str) -> School:
    """A school of the sample county (deploy/county.yaml)."""
    school = COUNTY.school(school_id)
    assert school is not None, school_id
    return school


DEG_PER_M = 0.001 / 111.2
Client = AsyncMongoClient[dict[str, Any]]


async def press(
    stack: Stack, ns: Namespace, client: httpx.AsyncClient, **fields: Any
) -> httpx.Response:
    return await post_press(client, stack["alarms"].url, ns.device_seed, press_body(**fields))


async def post_fixes(
    stack: Stack, ns: Namespace, client: httpx.AsyncClient, unit: str, fixes: list[dict[str, Any]]
) -> None:
    response = await client.post(
        f"{stack['patrols'].url}/v1/units/{unit}/positions",
        json={"fixes": fixes},
        headers=ns.auth("unit", unit),
    )
    assert response.status_code == 202, response.text


async def test_press_reaches_the_dispatcher_stream_with_nearest_units_in_order(
    stack: Stack, e2e_namespace: Namespace, mongo: Client
) -> None:
    ns = e2e_namespace
    school = sample_school("S010")
    now = datetime.now(UTC)
    placements = {"U001": 400, "U002": 900, "U003": 1800, "U004": 2600, "U005": 5000}
    async with httpx.AsyncClient(timeout=10) as client:
        for unit, metres in placements.items():
            fix = {
                "lat": school.lat + metres * DEG_PER_M,
                "lon": school.lon,
                "recorded_at": now.isoformat(),
            }
            await post_fixes(stack, ns, client, unit, [fix])
        stale = now - timedelta(minutes=10)
        await post_fixes(
            stack,
            ns,
            client,
            "U006",
            [{"lat": school.lat, "lon": school.lon, "recorded_at": stale.isoformat()}],
        )
        positions = mongo[f"{ns.db_prefix}notifications"]["unit_positions"]
        await wait_for(lambda: _count_at_least(positions, 6))

        stream_url = f"{stack['notifications'].url}/v1/dispatcher/stream?last_event_id=0"
        async with client.stream(
            "GET", stream_url, headers=ns.auth("dispatcher", "alice"), timeout=30
        ) as sse:
            assert sse.status_code == 200
            assert sse.headers["content-type"].startswith("text/event-stream")
            response = await press(
                stack, ns, client, school_id="S010", device_id="S010-BTN1", kind="violence"
            )
            assert response.status_code == 202, response.text
            alarm_id = response.json()["alarm_id"]
            event = await SseReader(sse).until(lambda e: e["data"]["alarm_id"] == alarm_id)

    entry = event["data"]
    assert event["event"] == "raised" and int(event["id"]) == entry["seq"]
    assert entry["school"]["school_id"] == "S010" and entry["kind"] == "violence"
    assert entry["location"] == {"building": "教学楼A", "floor": 2, "room": "201"}
    assert [u["unit_id"] for u in entry["nearest_units"]] == ["U001", "U002", "U003"]
    distances = [u["distance_m"] for u in entry["nearest_units"]]
    assert distances == sorted(distances)
    assert [round(d, -2) for d in distances] == [400, 900, 1800]


async def _count_at_least(collection: Any, n: int) -> bool:
    return bool(await collection.count_documents({}) >= n)


async def test_an_exact_replay_gets_the_same_answer_one_alarm_one_feed_entry(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    raw, headers = ns.signed_press("S011")
    async with httpx.AsyncClient(timeout=10) as client:
        first = await client.post(f"{stack['alarms'].url}/v1/alarms", content=raw, headers=headers)
        second = await client.post(f"{stack['alarms'].url}/v1/alarms", content=raw, headers=headers)
        assert (first.status_code, second.status_code) == (202, 202)
        assert first.json() == {"alarm_id": first.json()["alarm_id"], "duplicate": False}
        assert second.json() == {"alarm_id": first.json()["alarm_id"], "duplicate": True}
        alarm_id = first.json()["alarm_id"]

        async def entries() -> list[dict[str, Any]]:
            feed = await client.get(
                f"{stack['notifications'].url}/v1/dispatcher/feed",
                params={"limit": 1000},
                headers=ns.auth("dispatcher", "alice"),
            )
            return [e for e in feed.json() if e["alarm_id"] == alarm_id and e["state"] == "raised"]

        assert len(await wait_for(entries)) == 1
        await asyncio.sleep(1.0)  # a second entry would have arrived by now
        assert len(await entries()) == 1


async def test_reporting_counts_the_alarm(stack: Stack, e2e_namespace: Namespace) -> None:
    ns = e2e_namespace
    async with httpx.AsyncClient(timeout=10) as client:
        assert (
            await press(stack, ns, client, school_id="S012", device_id="S012-BTN1")
        ).status_code == 202
        assert (
            await press(stack, ns, client, school_id="S012", device_id="S012-BTN1", test=True)
        ).status_code == 202

        async def row() -> dict[str, Any] | None:
            report = await client.get(
                f"{stack['reporting'].url}/v1/reports/alarms-by-school",
                headers=ns.auth("supervisor", "chief"),
            )
            assert report.status_code == 200, report.text
            rows = [
                r
                for r in report.json()
                if r["school_id"] == "S012" and r["alarms"] + r["tests"] == 2
            ]
            return rows[0] if rows else None

        found = await wait_for(row)
    assert (found["alarms"], found["tests"]) == (1, 1)


async def test_every_service_is_healthy_ready_and_exports_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for name, service in stack.services.items():
            assert (await client.get(f"{service.url}/healthz")).json()["service"] == name
            ready = await client.get(f"{service.url}/readyz")
            checks = {"mongodb": "ok", "kafka": "ok"}
            if name == "notifications":
                checks["logs"] = "ok"  # its feed and orders logs read up to where they stood
            assert ready.status_code == 200 and ready.json()["checks"] == checks
            metrics = (await client.get(f"{service.url}/metrics")).text
            assert "safecampus_http_requests_total" in metrics
            assert "safecampus_events_processed_total" in metrics
        alarms_metrics = (await client.get(f"{stack['alarms'].url}/metrics")).text
        assert "safecampus_presses_accepted_total" in alarms_metrics

        async def lag_reported() -> bool:
            text = (await client.get(f"{stack['alarms'].url}/metrics")).text
            return "safecampus_consumer_lag{group=" in text and "alarms.pressed" in text

        await wait_for(lag_reported, timeout_s=40)
        assert "faststream_received_messages_total" in alarms_metrics


async def test_unit_status_rules_over_http_and_busy_units_are_not_sent(
    stack: Stack, e2e_namespace: Namespace, mongo: Client
) -> None:
    ns = e2e_namespace
    school = sample_school("S013")
    patrols = stack["patrols"].url
    async with httpx.AsyncClient(timeout=10) as client:

        async def status(unit: str, value: str, headers: dict[str, str]) -> httpx.Response:
            return await client.post(
                f"{patrols}/v1/units/{unit}/status", json={"status": value}, headers=headers
            )

        assert (await status("U007", "busy", ns.auth("unit", "U008"))).status_code == 403
        busy = await status("U007", "busy", ns.auth("unit", "U007"))
        assert busy.status_code == 200 and busy.json()["status"] == "busy"
        refused = await status("U007", "on_scene", ns.auth("unit", "U007"))
        assert (
            refused.status_code == 409
            and "cannot go from busy to on_scene" in refused.json()["detail"]
        )
        assert (await status("U007", "sleeping", ns.auth("unit", "U007"))).status_code == 422
        assert (await status("U009", "off_duty", ns.auth("dispatcher", "alice"))).status_code == 200
        unit = await client.get(f"{patrols}/v1/units/U007", headers=ns.auth("unit", "U007"))
        assert unit.json()["status"] == "busy" and unit.json()["status_version"] == 1

        now = datetime.now(UTC).isoformat()
        for unit_id, metres in (("U007", 20), ("U008", 50)):
            fix = {"lat": school.lat + metres * DEG_PER_M, "lon": school.lon, "recorded_at": now}
            await post_fixes(stack, ns, client, unit_id, [fix])

        async def known() -> bool:
            """Notifications' board (what it ranks from) has both units, U007 busy."""
            board = await client.get(
                f"{stack['notifications'].url}/v1/dispatcher/map",
                headers=ns.auth("dispatcher", "alice"),
            )
            units = {u["unit_id"]: u["status"] for u in board.json()["units"]}
            return units.get("U007") == "busy" and "U008" in units

        await wait_for(known)
        stream_url = f"{stack['notifications'].url}/v1/dispatcher/stream?last_event_id=0"
        async with client.stream(
            "GET", stream_url, headers=ns.auth("dispatcher", "alice"), timeout=30
        ) as sse:
            response = await press(stack, ns, client, school_id="S013", device_id="S013-BTN1")
            alarm_id = response.json()["alarm_id"]
            event = await SseReader(sse).until(lambda e: e["data"]["alarm_id"] == alarm_id)
    nearest = [u["unit_id"] for u in event["data"]["nearest_units"]]
    assert "U007" not in nearest and nearest[0] == "U008"
