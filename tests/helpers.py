"""Helpers shared by integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel

from services.alarms.settings import AlarmsSettings
from services.notifications.settings import NotificationsSettings
from services.patrols.settings import PatrolsSettings
from services.reporting.settings import ReportingSettings
from shared.signing import derive_device_secret, device_headers


class EverySetting(AlarmsSettings, PatrolsSettings, NotificationsSettings, ReportingSettings):
    """Every service's settings in one, for tests that build apps in their own process: each
    service's create_app takes them as its own."""


def press_body(
    *,
    school_id: str = "S001",
    device_id: str = "S001-BTN1",
    kind: str = "intrusion",
    test: bool = False,
    press_id: uuid.UUID | None = None,
    silent: bool = True,
) -> dict[str, Any]:
    return {
        "press_id": str(press_id or uuid.uuid4()),
        "school_id": school_id,
        "device_id": device_id,
        "kind": kind,
        "silent": silent,
        "test": test,
        "location": {"building": "教学楼A", "floor": 2, "room": "201"},
        "pressed_at": datetime.now(UTC).isoformat(),
    }


def signed_headers(
    secret: str, device_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    return device_headers(secret, device_id, body, timestamp=timestamp)


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition → next offset: how many messages a topic has ever had."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        offsets = await consumer.end_offsets(tps)
        return {tp.partition: offset for tp, offset in offsets.items()}
    finally:
        await consumer.stop()


async def put_on_topic(bootstrap: str, topic: str, key: str, event: BaseModel) -> None:
    """One event onto a topic, as the service that owns the topic would put it."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, event.model_dump_json().encode(), key=key.encode())
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, *, idle_s: float = 1.0) -> list[dict[str, Any]]:
    """Every message on a topic from the start, as JSON; stops after idle_s without news."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=int(idle_s * 1000))
            if not batch:
                return out
            for records in batch.values():
                out.extend(json.loads(r.value) for r in records)
    finally:
        await consumer.stop()


async def post_until_answered(
    client: httpx.AsyncClient, url: str, body: dict[str, Any]
) -> httpx.Response:
    """As a terminal's outbox sends: again while the service is down (no connection, or a
    5xx), until it answers."""
    while True:
        try:
            answer = await client.post(url, json=body)
        except httpx.TransportError:
            await asyncio.sleep(0.2)
            continue
        if answer.status_code < 500:
            return answer
        await asyncio.sleep(0.2)


async def wait_for(
    probe: Callable[[], Any], *, timeout_s: float = 30.0, interval_s: float = 0.1
) -> Any:
    """Poll an async probe until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met in {timeout_s} s (last: {last!r})")


class SseReader:
    """Reads Server-Sent Events from an open httpx stream."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next_event(self, timeout_s: float = 15.0) -> dict[str, Any]:
        event: dict[str, Any] = {}
        async with asyncio.timeout(timeout_s):
            async for line in self._lines:
                if not line:
                    if "data" in event:
                        return event
                    event = {}
                    continue
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                event[field] = json.loads(value) if field == "data" else value
        raise AssertionError("stream ended")

    async def until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 20.0
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                event = await self.next_event(timeout_s)
                if predicate(event):
                    return event


async def post_press(
    client: httpx.AsyncClient, alarms_url: str, device_seed: str, body: dict[str, Any]
) -> httpx.Response:
    """POST a press signed as its device would (secret derived from the namespace's seed)."""
    raw = encode(body)
    device = body["device_id"]
    secret = derive_device_secret(device_seed, device)
    return await client.post(
        f"{alarms_url}/v1/alarms", content=raw, headers=signed_headers(secret, device, raw)
    )


def heartbeat_body(**fields: Any) -> dict[str, Any]:
    """A healthy heartbeat (contract DESIGN §5.4), `fields` changed."""
    values: dict[str, Any] = {
        "sent_at": datetime.now(UTC).isoformat(),
        "battery_pct": 90,
        "tamper": False,
        "power": "battery",
        "firmware": "2.1.0",
        "signal_dbm": -70,
    }
    return values | fields


async def post_heartbeat(
    client: httpx.AsyncClient,
    alarms_url: str,
    device_seed: str,
    device: str,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    """POST a heartbeat signed as `device` would (secret derived from the namespace's seed)."""
    raw = encode(body or heartbeat_body())
    secret = derive_device_secret(device_seed, device)
    return await client.post(
        f"{alarms_url}/v1/devices/{device}/heartbeat",
        content=raw,
        headers=signed_headers(secret, device, raw),
    )


@dataclass
class Received:
    """One request a LocalEndpoint got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LocalEndpoint:
    """A real HTTP server on 127.0.0.1 (a webhook receiver, an SMS gateway) that records every
    POST and answers with the scripted statuses in turn (then 200)."""

    def __init__(self, statuses: Sequence[int] = ()) -> None:
        self.received: list[Received] = []
        self._statuses = list(statuses)
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                endpoint.received.append(Received(self.path, dict(self.headers), body))
                status = endpoint._statuses.pop(0) if endpoint._statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def __enter__(self) -> LocalEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
