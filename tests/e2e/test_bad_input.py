"""Bad input on both HTTP entry points: the documented 4xx, nothing stored, nothing published."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import encode, end_offsets, press_body, signed_headers, wait_for
from tools.stack import Stack

Client = AsyncMongoClient[dict[str, Any]]


async def test_bad_presses_get_their_4xx_and_change_nothing(
    stack: Stack, e2e_namespace: Namespace, mongo: Client
) -> None:
    ns = e2e_namespace
    url = f"{stack['alarms'].url}/v1/alarms"
    secret = ns.device_secret("S001-BTN1")
    before = await end_offsets(KAFKA_BOOTSTRAP, ns.topics.alarms_pressed)
    body = press_body()
    raw = encode(body)
    good = signed_headers(secret, "S001-BTN1", raw)
    malformed = b'{"press_id": "'
    invalid = encode(
        body | {"kind": "alien", "location": {"building": "A", "floor": "two", "room": "1"}}
    )
    huge = encode(body | {"padding": "x" * 300_000})
    other_school = encode(press_body(school_id="S002", device_id="S001-BTN1"))
    cases: list[tuple[str, bytes, dict[str, str], int]] = [
        ("bad signature", raw, good | {"X-Signature": "ab" * 32}, 401),
        ("signature of another body", raw, signed_headers(secret, "S001-BTN1", b"{}"), 401),
        ("missing signature", raw, {k: v for k, v in good.items() if k != "X-Signature"}, 401),
        (
            "stale timestamp",
            raw,
            signed_headers(secret, "S001-BTN1", raw, timestamp=int(time.time()) - 301),
            401,
        ),
        (
            "future timestamp",
            raw,
            signed_headers(secret, "S001-BTN1", raw, timestamp=int(time.time()) + 400),
            401,
        ),
        ("unknown device", raw, signed_headers(secret, "GHOST-1", raw), 401),
        (
            "secret of another device",
            raw,
            signed_headers(ns.device_secret("S002-BTN1"), "S001-BTN1", raw),
            401,
        ),
        ("malformed JSON", malformed, signed_headers(secret, "S001-BTN1", malformed), 422),
        ("invalid fields", invalid, signed_headers(secret, "S001-BTN1", invalid), 422),
        ("another school", other_school, signed_headers(secret, "S001-BTN1", other_school), 403),
        ("too large", huge, signed_headers(secret, "S001-BTN1", huge), 413),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for label, content, headers, status in cases:
            response = await client.post(url, content=content, headers=headers)
            assert response.status_code == status, (
                f"{label}: {response.status_code} {response.text}"
            )
            assert "detail" in response.json(), label
        response = await client.post(
            url, content=invalid, headers=signed_headers(secret, "S001-BTN1", invalid)
        )
    fields = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert {("body", "kind"), ("body", "location", "floor")} <= fields

    assert await end_offsets(KAFKA_BOOTSTRAP, ns.topics.alarms_pressed) == before
    presses = mongo[f"{ns.db_prefix}alarms"]["presses"]
    assert await presses.count_documents({"_id": body["press_id"]}) == 0


async def test_bad_position_batches_get_their_4xx_and_change_nothing(
    stack: Stack, e2e_namespace: Namespace, mongo: Client
) -> None:
    ns = e2e_namespace
    url = f"{stack['patrols'].url}/v1/units/U020/positions"
    before = await end_offsets(KAFKA_BOOTSTRAP, ns.topics.patrols_positions)
    now = datetime.now(UTC)
    ok_fix = {"lat": 35.69, "lon": 105.05, "recorded_at": now.isoformat()}
    unit = ns.auth("unit", "U020")
    cases: list[tuple[str, Any, dict[str, str], int, tuple[Any, ...] | None]] = [
        (
            "latitude 200",
            {"fixes": [ok_fix | {"lat": 200}]},
            unit,
            422,
            ("body", "fixes", 0, "lat"),
        ),
        (
            "longitude -181",
            {"fixes": [ok_fix, ok_fix | {"lon": -181}]},
            unit,
            422,
            ("body", "fixes", 1, "lon"),
        ),
        (
            "fix from the future",
            {"fixes": [ok_fix | {"recorded_at": (now + timedelta(minutes=5)).isoformat()}]},
            unit,
            422,
            ("body", "fixes", 0, "recorded_at"),
        ),
        (
            "naive time",
            {"fixes": [ok_fix | {"recorded_at": "2026-11-28T08:00:00"}]},
            unit,
            422,
            ("body", "fixes", 0, "recorded_at"),
        ),
        ("no fixes", {"fixes": []}, unit, 422, ("body", "fixes")),
        ("too many fixes", {"fixes": [ok_fix] * 501}, unit, 422, ("body", "fixes")),
        (
            "unknown field",
            {"fixes": [ok_fix | {"altitude": 3}]},
            unit,
            422,
            ("body", "fixes", 0, "altitude"),
        ),
        ("no token", {"fixes": [ok_fix]}, {}, 401, None),
        ("forged token", {"fixes": [ok_fix]}, {"Authorization": "Bearer abc.def.ghi"}, 401, None),
        ("another unit", {"fixes": [ok_fix]}, ns.auth("unit", "U021"), 403, None),
        (
            "dispatcher is not a unit",
            {"fixes": [ok_fix]},
            ns.auth("dispatcher", "alice"),
            403,
            None,
        ),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for label, body, headers, status, loc in cases:
            response = await client.post(url, json=body, headers=headers)
            assert response.status_code == status, (
                f"{label}: {response.status_code} {response.text}"
            )
            if loc is not None:
                assert loc in {tuple(e["loc"]) for e in response.json()["detail"]}, label
        malformed = await client.post(
            url, content=b"{fixes:", headers=unit | {"Content-Type": "application/json"}
        )
        assert malformed.status_code == 422
        ghost = await client.post(
            f"{stack['patrols'].url}/v1/units/GHOST/positions",
            json={"fixes": [ok_fix]},
            headers=ns.auth("admin", "root"),
        )
        assert ghost.status_code == 404

    assert await end_offsets(KAFKA_BOOTSTRAP, ns.topics.patrols_positions) == before
    history = mongo[f"{ns.db_prefix}patrols"]["positions"]
    assert await history.count_documents({"unit_id": {"$in": ["U020", "GHOST"]}}) == 0


async def test_a_body_too_large_is_413_on_every_service_before_it_is_read(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    """Before, every JSON route read and parsed a body of any size before it checked the
    token: a stranger's 200 MiB grew a service by ~400 MiB. Now 413, declared or streamed."""
    big = b'{"x": "' + b"x" * (1024 * 1024) + b'"}'

    async def streamed() -> Any:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    ns, alarm = e2e_namespace, "00000000-0000-4000-8000-000000000000"
    writes = {  # a route that reads a JSON body on each, with a token where it asks for one
        "alarms": (f"/v1/alarms/{alarm}/acknowledge", ns.auth("dispatcher", "d1")),
        "patrols": ("/v1/units/U020/positions", ns.auth("unit", "U020")),
        "notifications": (
            f"/v1/dispatcher/alarms/{alarm}/acknowledge",
            ns.auth("dispatcher", "d1"),
        ),
        "reporting": ("/v1/auth/token", {}),
    }
    async with httpx.AsyncClient(timeout=10) as client:
        for service, (path, token) in writes.items():
            url = f"{stack[service].url}{path}"
            declared = await client.post(url, content=big, headers={"Content-Type": "text/plain"})
            assert declared.status_code == 413, f"{service}: {declared.status_code}"
            assert declared.json()["reason"] == "too_large"
            headers = {"Content-Type": "application/json", **token}
            chunked = await client.post(url, content=streamed(), headers=headers)
            assert chunked.status_code == 413, f"{service} (chunked): {chunked.status_code}"


async def test_one_user_holds_only_so_many_live_streams(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    """Streams per token were unbounded: one stolen or buggy client could hold an instance's
    memory and sockets. MAX_STREAMS_PER_USER (10) per user and instance; then 429."""
    url = f"{stack['notifications'].url}/v1/dispatcher/stream"
    mine, other = e2e_namespace.auth("dispatcher", "greedy"), e2e_namespace.auth("dispatcher", "z")
    async with AsyncExitStack() as streams, httpx.AsyncClient(timeout=10) as client:
        for _ in range(10):
            opened = await streams.enter_async_context(client.stream("GET", url, headers=mine))
            assert opened.status_code == 200
        refused = await client.get(url, headers=mine)
        assert refused.status_code == 429 and "10 live streams" in refused.json()["detail"]
        assert refused.headers["Retry-After"]
        async with client.stream("GET", url, headers=other) as someone_else:
            assert someone_else.status_code == 200, "another user is not held back"

    async def slot_free() -> bool:
        """The server sees the hang-ups a moment after the client made them."""
        async with (
            httpx.AsyncClient(timeout=10) as client,
            client.stream("GET", url, headers=mine) as again,
        ):
            return again.status_code == 200

    assert await wait_for(slot_free, timeout_s=10), "closed streams give their slots back"


async def test_positions_past_a_64_bit_number_are_422_not_500(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    """`after` and `last_event_id` above 2^63 overflowed BSON's int64 in the query: a 500."""
    base, ns = stack["notifications"].url, e2e_namespace
    dispatcher, unit = ns.auth("dispatcher", "d1"), ns.auth("unit", "U020")
    too_big = str(2**63)
    async with httpx.AsyncClient(timeout=10) as client:
        for path, params, headers in [
            ("/v1/dispatcher/feed", {"after": too_big}, dispatcher),
            ("/v1/units/U020/orders", {"after": too_big}, unit),
            ("/v1/dispatcher/stream", {"last_event_id": too_big}, dispatcher),
            ("/v1/dispatcher/stream", {}, dispatcher | {"Last-Event-ID": too_big}),
            ("/v1/units/U020/orders/stream", {}, unit | {"Last-Event-ID": "-1"}),
        ]:
            answer = await client.get(f"{base}{path}", params=params, headers=headers)
            assert answer.status_code == 422, f"{path} {params}: {answer.status_code}"
        unicode_digit = await client.get(
            f"{base}/v1/dispatcher/stream",
            headers=[*dispatcher.items(), ("Last-Event-ID", "1²".encode("latin-1"))],
        )
        assert unicode_digit.status_code == 422
        largest = await client.get(
            f"{base}/v1/dispatcher/feed", params={"after": str(2**63 - 1)}, headers=dispatcher
        )
        assert largest.status_code == 200 and largest.json() == []


async def test_the_terminals_reads_refuse_bad_input_naming_it(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    """The unit terminal's reads (duty, points near it, its newest orders): a clear 4xx."""
    ns = e2e_namespace
    patrols, notifications = stack["patrols"].url, stack["notifications"].url
    unit = ns.auth("unit", "U003")
    async with httpx.AsyncClient(timeout=10) as client:
        far = await client.get(f"{patrols}/v1/points", params={"lat": 95, "lon": 0}, headers=unit)
        assert far.status_code == 422 and far.json()["detail"][0]["loc"] == ["query", "lat"]
        wide = await client.get(
            f"{patrols}/v1/points",
            params={"lat": 35.6, "lon": 105.1, "within_m": 50_000},
            headers=unit,
        )
        assert wide.status_code == 422 and wide.json()["detail"][0]["loc"] == ["query", "within_m"]
        missing = await client.get(f"{patrols}/v1/points", params={"lat": 35.6}, headers=unit)
        assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["query", "lon"]
        assert (await client.get(f"{patrols}/v1/points?lat=1&lon=1")).status_code == 401
        other = await client.get(f"{patrols}/v1/units/U004/duty", headers=unit)
        assert other.status_code == 403
        nobody = await client.get(
            f"{patrols}/v1/units/NOPE/duty", headers=ns.auth("dispatcher", "d")
        )
        assert nobody.status_code == 404 and "NOPE" in nobody.json()["detail"]
        own = await client.get(f"{patrols}/v1/units/U003/duty", headers=unit)
        assert own.status_code == 200 and own.json() == [], "no roster: no duty"
        latest = await client.get(
            f"{notifications}/v1/units/U003/orders",
            params={"latest": "maybe"},
            headers=unit,
        )
        assert latest.status_code == 422 and latest.json()["detail"][0]["loc"] == [
            "query",
            "latest",
        ]
        theirs = await client.get(
            f"{notifications}/v1/units/U004/orders", params={"latest": "true"}, headers=unit
        )
        assert theirs.status_code == 403
