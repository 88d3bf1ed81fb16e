"""The alarms app in-process against the real broker and database: DLQ and the happy path."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from services.alarms.journal import PressJournal
from services.alarms.main import create_app
from shared.events import AlarmPressed, stable_id
from shared.exchange import cap, eido
from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import (
    encode,
    heartbeat_body,
    press_body,
    read_topic,
    signed_headers,
    wait_for,
)

Client = AsyncMongoClient[dict[str, Any]]


@pytest.fixture
async def alarms_app(namespace: Namespace) -> AsyncIterator[FastAPI]:
    app = create_app(namespace.settings())
    async with app.router.lifespan_context(app):
        yield app


async def produce(topic: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"S001")
    finally:
        await producer.stop()


async def signed_press(client: httpx.AsyncClient, namespace: Namespace) -> httpx.Response:
    """A press at S001, signed by its button."""
    body = encode(press_body())
    secret = namespace.device_secret("S001-BTN1")
    return await client.post(
        "/v1/alarms", content=body, headers=signed_headers(secret, "S001-BTN1", body)
    )


async def test_unprocessable_messages_go_to_the_dlq_with_the_reason(
    alarms_app: FastAPI, namespace: Namespace, mongo: Client
) -> None:
    topic = namespace.topics.alarms_pressed
    valid_but_unknown_school = press_body() | {
        "event_id": str(stable_id("x")),
        "alarm_id": str(stable_id("alarm", "x")),
        "school_id": "NO-SUCH-SCHOOL",
        "received_at": "2026-11-28T08:00:00Z",
    }
    await produce(topic, b"{not json", b'{"press_id": 5}', encode(valid_but_unknown_school))

    async def letters() -> list[dict[str, Any]]:
        found = await read_topic(KAFKA_BOOTSTRAP, f"{topic}.dlq", idle_s=0.5)
        return found if len(found) >= 3 else []

    dead = await wait_for(letters)
    assert [d["offset"] for d in dead] == [0, 1, 2]
    assert all(d["topic"] == topic and d["service"] == "alarms" for d in dead)
    assert "Invalid JSON" in dead[0]["error"]
    assert "press_id" in dead[1]["error"] and "school_id: Field required" in dead[1]["error"]
    assert "unknown school NO-SUCH-SCHOOL" in dead[2]["error"]
    assert dead[0]["payload"] == "{not json"
    assert await mongo[f"{namespace.db_prefix}alarms"]["alarms"].count_documents({}) == 0


async def test_signed_press_is_raised_and_published(
    alarms_app: FastAPI, namespace: Namespace, mongo: Client
) -> None:
    transport = httpx.ASGITransport(app=alarms_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://alarms") as client:
        response = await signed_press(client, namespace)
    assert response.status_code == 202, response.text
    alarm_id = response.json()["alarm_id"]
    alarms = mongo[f"{namespace.db_prefix}alarms"]["alarms"]
    await wait_for(lambda: alarms.find_one({"_id": alarm_id, "outbox": []}))
    lifecycle = await read_topic(KAFKA_BOOTSTRAP, namespace.topics.alarms_lifecycle)
    assert [(e["alarm_id"], e["state"]) for e in lifecycle] == [(alarm_id, "raised")]
    assert lifecycle[0]["school"]["school_id"] == "S001"


async def test_consumer_lag_counts_what_the_group_has_not_committed(namespace: Namespace) -> None:
    from dataclasses import dataclass

    from aiokafka import AIOKafkaConsumer
    from prometheus_client import CollectorRegistry

    from shared.lag import LagMonitor
    from shared.topics import ensure_topics

    @dataclass
    class Sub:
        group_id: str
        topic_names: list[str]

    await ensure_topics(KAFKA_BOOTSTRAP, namespace.topics)
    topic, group = namespace.topics.alarms_commands, namespace.topics.group("lag-probe")
    await produce(topic, *[f'{{"n": {i}}}'.encode() for i in range(5)])
    registry = CollectorRegistry()
    monitor = LagMonitor(KAFKA_BOOTSTRAP, [Sub(group, [topic])], registry)
    assert await monitor.measure() == {(group, topic): 5}, "nothing committed yet: all of it"

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=KAFKA_BOOTSTRAP,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        read = 0
        while read < 3:
            batch = await consumer.getmany(timeout_ms=2000, max_records=3 - read)
            read += sum(len(records) for records in batch.values())
        await consumer.commit()
    finally:
        await consumer.stop()
    assert await monitor.measure() == {(group, topic): 2}
    assert (
        registry.get_sample_value("safecampus_consumer_lag", {"group": group, "topic": topic}) == 2
    )


async def test_an_ingress_only_instance_forwards_its_journal(
    namespace: Namespace, tmp_path: Path
) -> None:
    """CONSUMERS_ENABLED=false runs no background jobs; the journal's forwarder was one of
    them, so presses journaled during one broker wait stayed there for ever (answered 202)."""
    pressed = AlarmPressed.model_validate(
        press_body()
        | {
            "event_id": str(uuid.uuid4()),
            "alarm_id": str(uuid.uuid4()),
            "received_at": "2026-11-28T08:00:00Z",
        }
    )
    await PressJournal(tmp_path).append(pressed)
    app = create_app(namespace.settings(consumers_enabled=False, journal_dir=tmp_path))

    async def forwarded() -> bool:
        return PressJournal(tmp_path).backlog == 0

    async with app.router.lifespan_context(app):
        await wait_for(forwarded, timeout_s=15)
    sent = await read_topic(KAFKA_BOOTSTRAP, namespace.topics.alarms_pressed)
    assert [e["press_id"] for e in sent] == [str(pressed.press_id)]


async def test_a_unit_reads_only_the_results_of_its_own_commands(
    alarms_app: FastAPI, namespace: Namespace, mongo: Client
) -> None:
    """Any unit could read any command's result (what another unit or a dispatcher did)."""
    transport = httpx.ASGITransport(app=alarms_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://alarms") as client:
        pressed = await signed_press(client, namespace)
        alarm_id = pressed.json()["alarm_id"]
        alarms = mongo[f"{namespace.db_prefix}alarms"]["alarms"]
        await wait_for(lambda: alarms.find_one({"_id": alarm_id}))
        command_id = str(uuid.uuid4())
        await client.post(
            f"/v1/alarms/{alarm_id}/en-route",
            json={"command_id": command_id},
            headers=namespace.auth("unit", "U001"),
        )  # refused (no unit assigned yet): a result all the same
        url = f"/v1/commands/{command_id}"

        async def own() -> httpx.Response | None:
            answer = await client.get(url, headers=namespace.auth("unit", "U001"))
            return answer if answer.status_code == 200 else None

        mine = await wait_for(own)
        assert mine.json()["actor"] == "U001"
        other = await client.get(url, headers=namespace.auth("unit", "U002"))
        assert other.status_code == 404, "another unit learns nothing, not even that it exists"
        dispatcher = await client.get(url, headers=namespace.auth("dispatcher", "alice"))
        assert dispatcher.status_code == 200


async def test_a_bad_heartbeat_is_refused_with_its_reason_and_changes_nothing(
    alarms_app: FastAPI, namespace: Namespace, mongo: Client
) -> None:
    transport = httpx.ASGITransport(app=alarms_app)
    health = mongo[f"{namespace.db_prefix}alarms"]["device_health"]
    device, secret = "S001-BTN1", namespace.device_secret("S001-BTN1")
    good = encode(heartbeat_body())
    now = int(time.time())

    def beat(body: bytes, *, as_device: str = device, timestamp: int = now) -> dict[str, Any]:
        return {
            "content": body,
            "headers": signed_headers(secret, as_device, body, timestamp=timestamp),
        }

    async with httpx.AsyncClient(transport=transport, base_url="http://alarms") as client:
        path = f"/v1/devices/{device}/heartbeat"
        cases = {
            "unsigned": await client.post(path, content=good),
            "forged": await client.post(
                path, content=good, headers=signed_headers("0" * 64, device, good)
            ),
            "stale": await client.post(path, **beat(good, timestamp=now - 3600)),
            "another device's path": await client.post(
                "/v1/devices/S002-BTN1/heartbeat", **beat(good)
            ),
            "no battery field": await client.post(
                path,
                **beat(encode({k: v for k, v in heartbeat_body().items() if k != "battery_pct"})),
            ),
            "battery 140": await client.post(path, **beat(encode(heartbeat_body(battery_pct=140)))),
            "not json": await client.post(path, **beat(b"{beat")),
            "too large": await client.post(path, **beat(b"x" * (300 * 1024))),
        }
        statuses = {case: answer.status_code for case, answer in cases.items()}
        assert statuses == {
            "unsigned": 401,
            "forged": 401,
            "stale": 401,
            "another device's path": 403,
            "no battery field": 422,
            "battery 140": 422,
            "not json": 422,
            "too large": 413,
        }
        assert cases["another device's path"].json()["reason"] == "device_mismatch"
        fields = {e["loc"][-1] for e in cases["no battery field"].json()["detail"]}
        assert fields == {"battery_pct"}
        assert "battery_pct" in cases["battery 140"].text
        stored = await health.find_one({"_id": device})
        assert stored is not None and stored.get("last_seen") is None, "nothing recorded"

        recorded = await client.post(path, **beat(good, timestamp=now))
        assert recorded.status_code == 200 and recorded.json() == {"next_in_s": 60}
        replayed = await client.post(path, **beat(good, timestamp=now - 5))
        assert replayed.status_code == 401 and replayed.json()["reason"] == "replayed_heartbeat"
    stored = await health.find_one({"_id": device})
    assert stored is not None and stored["beat"]["firmware"] == "2.1.0"


async def test_a_live_test_window_its_presses_and_its_report(
    alarms_app: FastAPI, namespace: Namespace
) -> None:
    """S001 plans a window; one button's test press arrives, the other is reported pressed and
    never arrives: tested and failed; S002's button, outside the window's scope, not tested."""
    transport = httpx.ASGITransport(app=alarms_app)
    supervisor, dispatcher = (
        namespace.auth("supervisor", "li"),
        namespace.auth("dispatcher", "wang"),
    )
    now = datetime.now(UTC)
    plan = {
        "school_id": "S001",
        "starts_at": (now - timedelta(minutes=5)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "note": "110 centre told at 09:00",
    }
    async with httpx.AsyncClient(transport=transport, base_url="http://alarms") as client:
        refused = {
            "no token": await client.post("/v1/live-tests", json=plan),
            "a dispatcher plans": await client.post(
                "/v1/live-tests", json=plan, headers=dispatcher
            ),
            "unknown school": await client.post(
                "/v1/live-tests", json=plan | {"school_id": "S404"}, headers=supervisor
            ),
            "no scope": await client.post(
                "/v1/live-tests",
                json={k: v for k, v in plan.items() if k != "school_id"},
                headers=supervisor,
            ),
        }
        assert {k: r.status_code for k, r in refused.items()} == {
            "no token": 401,
            "a dispatcher plans": 403,
            "unknown school": 422,
            "no scope": 422,
        }
        created = await client.post("/v1/live-tests", json=plan, headers=supervisor)
        assert created.status_code == 201, created.text
        test_id = created.json()["test_id"]
        again = await client.post(
            "/v1/live-tests", json=plan | {"test_id": test_id}, headers=supervisor
        )
        assert again.status_code == 200 and again.json() == created.json()

        body = encode(press_body(school_id="S001", device_id="S001-BTN1", test=True))
        secret = namespace.device_secret("S001-BTN1")
        pressed = await client.post(
            "/v1/alarms", content=body, headers=signed_headers(secret, "S001-BTN1", body)
        )
        assert pressed.status_code == 202, pressed.text
        attempt = {"device_id": "S001-BTN2", "pressed_at": now.isoformat()}
        path = f"/v1/live-tests/{test_id}/attempts"
        assert (await client.post(path, json=attempt, headers=dispatcher)).status_code == 200
        outside = await client.post(
            path, json=attempt | {"device_id": "S002-BTN1"}, headers=dispatcher
        )
        assert outside.status_code == 422 and "not at a school this window covers" in outside.text
        missing = await client.post(
            f"/v1/live-tests/{uuid.uuid4()}/attempts", json=attempt, headers=dispatcher
        )
        assert missing.status_code == 404

        answer = await client.get(
            "/v1/live-tests/report",
            params={"township": "会师镇", "since": (now - timedelta(hours=1)).isoformat()},
            headers=supervisor,
        )
    assert answer.status_code == 200, answer.text
    rows = {r["device_id"]: r["status"] for r in answer.json()["rows"]}
    assert rows["S001-BTN1"] == "tested" and rows["S001-BTN2"] == "failed"
    assert rows["S002-BTN1"] == "not_tested"
    report = answer.json()
    assert (report["tested"], report["failed"]) == (1, 1)
    assert report["not_tested"] == len(rows) - 2


async def test_a_test_alarm_through_its_lifecycle_exports_valid_cap_and_eido(
    alarms_app: FastAPI, namespace: Namespace, mongo: Client
) -> None:
    """Every event of a test alarm's timeline, from the press to its resolution, as CAP and
    as EIDO: each valid against its published schema, CAP status `Test`."""
    transport = httpx.ASGITransport(app=alarms_app)
    dispatcher, unit = namespace.auth("dispatcher", "wang"), namespace.auth("unit", "U001")
    body = encode(press_body(school_id="S001", device_id="S001-BTN1", test=True))
    secret = namespace.device_secret("S001-BTN1")
    async with httpx.AsyncClient(transport=transport, base_url="http://alarms") as client:
        pressed = await client.post(
            "/v1/alarms", content=body, headers=signed_headers(secret, "S001-BTN1", body)
        )
        alarm_id = pressed.json()["alarm_id"]
        alarms = mongo[f"{namespace.db_prefix}alarms"]["alarms"]
        await wait_for(lambda: alarms.find_one({"_id": alarm_id}))
        for action, payload, who in (
            ("acknowledge", {}, dispatcher),
            ("assign", {"unit_id": "U001"}, dispatcher),
            ("en-route", {}, unit),
            ("on-scene", {}, unit),
            ("resolve", {"outcome": "handled"}, dispatcher),
        ):
            answer = await client.post(f"/v1/alarms/{alarm_id}/{action}", json=payload, headers=who)
            assert answer.status_code == 200, (action, answer.text)

        detail = await client.get(f"/v1/alarms/{alarm_id}", headers=dispatcher)
        timeline = detail.json()["timeline"]
        states = [e["state"] for e in timeline]
        assert states == [
            "raised",
            "acknowledged",
            "unit_assigned",
            "en_route",
            "on_scene",
            "resolved",
        ]
        for event in timeline:
            params = {"event_id": event["event_id"]}
            xml = await client.get(f"/v1/alarms/{alarm_id}/cap", params=params, headers=dispatcher)
            assert xml.status_code == 200 and xml.headers["content-type"] == cap.MEDIA_TYPE
            cap.validate(xml.content)
            assert b"<status>Test</status>" in xml.content
            doc = await client.get(f"/v1/alarms/{alarm_id}/eido", params=params, headers=dispatcher)
            assert doc.status_code == 200
            eido.validate(doc.json())
            assert doc.json()["incidentComponent"]["incidentStatusInternalText"] == [event["state"]]

        latest = await client.get(f"/v1/alarms/{alarm_id}/cap", headers=dispatcher)
        assert b"<responseType>AllClear</responseType>" in latest.content
        assert latest.content.count(b"safecampus-") == len(timeline), "itself and 5 references"
        refused = {
            "a unit": await client.get(f"/v1/alarms/{alarm_id}/cap", headers=unit),
            "no such alarm": await client.get(
                f"/v1/alarms/{uuid.uuid4()}/eido", headers=dispatcher
            ),
            "no such event": await client.get(
                f"/v1/alarms/{alarm_id}/cap",
                params={"event_id": str(uuid.uuid4())},
                headers=dispatcher,
            ),
            "not an id": await client.get(
                f"/v1/alarms/{alarm_id}/eido", params={"event_id": "x"}, headers=dispatcher
            ),
        }
        assert {k: r.status_code for k, r in refused.items()} == {
            "a unit": 403,
            "no such alarm": 404,
            "no such event": 404,
            "not an id": 422,
        }
