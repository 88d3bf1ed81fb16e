"""Gate visitor logs end to end on the real broker and database: a school's gate account records
visitors in and out; bad input refused naming the problem with nothing kept or published; a
visitor still inside when the school closes is flagged (county time), one who left is not; the
bureau reads the log masked; visitors streamed in and out through a kill of patrols, each
visit counted once per school."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.conftest import KAFKA_BOOTSTRAP, MONGODB_URL, Namespace
from tests.helpers import end_offsets, post_until_answered, read_topic, wait_for
from tools.stack import Stack

COUNTY_ZONE = ZoneInfo("Asia/Shanghai")  # deploy/county.yaml's
CLOSES_IN_S = 25  # after the services start: long enough for the first tests to run before


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, str]:
    closes = datetime.now(COUNTY_ZONE) + timedelta(seconds=CLOSES_IN_S)
    return {"SCHOOL_CLOSES_AT": closes.strftime("%H:%M:%S"), "VISITOR_CHECK_S": "0.5"}


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("patrols", "reporting")


def ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


def visitor(**fields: Any) -> dict[str, Any]:
    return {
        "visit_id": str(uuid.uuid4()),
        "name": "刘建国",
        "phone": "13912345678",
        "organisation": "县自来水公司",
        "purpose": "contractor",
        "host": "总务处",
        "id_checked": True,
        "plate": "甘D12345",
        "arrived_at": ago(60),
    } | fields


async def test_a_bad_visit_is_refused_naming_the_problem_and_nothing_is_kept(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    base = f"{stack['patrols'].url}/v1/schools"
    gate = ns.auth("school", "S001")
    topic = ns.topics.patrols_gate_visits
    before = await end_offsets(KAFKA_BOOTSTRAP, topic)
    cases: list[tuple[dict[str, Any], str]] = [
        (visitor(purpose="sightseeing"), "purpose"),
        (visitor(phone="call me"), "phone"),
        (visitor(name=""), "name"),
        (visitor(host=""), "host"),
        (visitor(id_checked=None), "id_checked"),
        (visitor(arrived_at=ago(-3600)), "in the future"),
        (visitor(arrived_at="yesterday"), "RFC 3339"),
        (visitor(visit_id="v1"), "visit_id"),
        (visitor(extra=1), "extra"),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for body, named in cases:
            answer = await client.post(f"{base}/S001/visitors", json=body, headers=gate)
            assert answer.status_code == 422 and named in answer.text, (body, answer.text)
            assert "call me" not in answer.text, "a phone is never echoed"
        other = await client.post(f"{base}/S002/visitors", json=visitor(), headers=gate)
        assert other.status_code == 403, "a school's gate records only its own visitors"
        unit = await client.post(
            f"{base}/S001/visitors", json=visitor(), headers=ns.auth("unit", "U001")
        )
        assert unit.status_code == 403
        chief = ns.auth("supervisor", "li")
        unknown = await client.post(f"{base}/S404/visitors", json=visitor(), headers=chief)
        assert unknown.status_code == 404 and "S404" in unknown.text
        missing = await client.post(
            f"{base}/S001/visitors/{uuid.uuid4()}/out", json={"left_at": ago(0)}, headers=gate
        )
        assert missing.status_code == 404
        assert (await client.get(f"{base}/S001/visitors", headers=gate)).json() == []
        assert (await client.get(f"{base}/S002/visitors", headers=gate)).status_code == 403
    assert await end_offsets(KAFKA_BOOTSTRAP, topic) == before
    async with AsyncMongoClient[dict[str, Any]](MONGODB_URL) as mongo:
        assert await mongo[f"{ns.db_prefix}patrols"]["gate_visits"].count_documents({}) == 0


async def test_a_visitor_still_inside_at_closing_is_flagged_and_one_who_left_is_not(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    log = f"{stack['patrols'].url}/v1/schools/S001/visitors"
    gate, dispatcher = ns.auth("school", "S001"), ns.auth("dispatcher", "chen")
    staying, leaving = visitor(), visitor(name="王芳", purpose="parent", plate=None)
    async with httpx.AsyncClient(timeout=10) as client:
        for body in (staying, leaving, staying):  # the first one sent again: one visit
            answer = await client.post(log, json=body, headers=gate)
            assert answer.status_code == 201, answer.text
        assert answer.json()["name"] == "刘建国" and answer.json()["plate"] == "甘D12345"
        out = f"{log}/{leaving['visit_id']}/out"
        early = await client.post(out, json={"left_at": ago(120)}, headers=gate)
        assert early.status_code == 422 and "before the visitor arrived" in early.text
        left = await client.post(out, json={"left_at": ago(1)}, headers=gate)
        assert left.status_code == 200 and left.json()["version"] == 2, left.text
        again = await client.post(out, json={"left_at": ago(0)}, headers=gate)
        assert again.status_code == 409 and "left at" in again.text

        async def flagged() -> list[dict[str, Any]] | None:
            visits = (await client.get(log, headers=gate)).json()
            return visits if any(v["after_hours"] for v in visits) else None

        visits = await wait_for(flagged, timeout_s=CLOSES_IN_S + 30)  # the school closes
        by_id = {v["visit_id"]: v for v in visits}
        assert (
            by_id[staying["visit_id"]]["after_hours"] and by_id[staying["visit_id"]]["version"] == 2
        )
        assert not by_id[leaving["visit_id"]]["after_hours"]
        inside = (await client.get(log, params={"inside": "true"}, headers=dispatcher)).json()
        assert [(v["visit_id"], v["name"], v["phone"], v["plate"]) for v in inside] == [
            (staying["visit_id"], "刘**", "139****5678", None)
        ], "the bureau reads visitors masked"

        async def reported() -> list[str] | None:
            got = await client.get(
                f"{stack['reporting'].url}/v1/reports/gate-visits",
                params={"since": ago(3600), "school_id": "S001", "format": "csv"},
                headers=ns.auth("supervisor", "li"),
            )
            lines = got.text.splitlines()
            return lines if len(lines) == 3 and ",2,1,1," in lines[2] else None

        lines = await wait_for(reported, timeout_s=30)
        assert lines[0].startswith("学校编号,学校,乡镇,来访人次,未离校,放学后未离校,")
        assert lines[2].startswith("S001,会师镇第1小学,会师镇,2,1,1,")


async def post_until(client: httpx.AsyncClient, url: str, body: dict[str, Any], ok: int) -> None:
    answer = await post_until_answered(client, url, body)
    assert answer.status_code == ok, answer.text


async def test_visitors_streamed_through_a_kill_are_each_counted_once(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    patrols = stack["patrols"]
    log = f"{patrols.url}/v1/schools/S030/visitors"
    bodies = [visitor(name=f"访客{i}", purpose="delivery", arrived_at=ago(300)) for i in range(12)]
    async with httpx.AsyncClient(timeout=10, headers=ns.auth("school", "S030")) as client:
        for body in bodies[:5]:
            await post_until(client, log, body, 201)
        patrols.kill()  # mid-stream: the gate keeps sending, and sends again
        sending = asyncio.gather(*(post_until(client, log, b, 201) for b in bodies[5:9]))
        await asyncio.sleep(1)
        patrols.start()
        await sending
        await asyncio.to_thread(patrols.wait_ready)
        for body in bodies[4:]:
            await post_until(client, log, body, 201)
        for body in bodies:
            await post_until(client, f"{log}/{body['visit_id']}/out", {"left_at": ago(60)}, 200)

    async def counted() -> list[str] | None:
        async with httpx.AsyncClient(timeout=10) as client:
            got = await client.get(
                f"{stack['reporting'].url}/v1/reports/gate-visits",
                params={"since": ago(3600), "school_id": "S030", "format": "csv", "lang": "en"},
                headers=ns.auth("supervisor", "li"),
            )
        lines = got.text.splitlines()
        return lines if len(lines) == 3 and lines[2].split(",")[3:5] == ["12", "0"] else None

    lines = await wait_for(counted, timeout_s=30)
    assert lines[0].startswith("School ID,School,Township,Visitors,Still inside,")
    mine = {b["visit_id"] for b in bodies}
    events = [
        e
        for e in await read_topic(KAFKA_BOOTSTRAP, ns.topics.patrols_gate_visits)
        if e["visit_id"] in mine
    ]
    versions = {(e["visit_id"], e["version"]): e["change"] for e in events}
    for visit in mine:  # in, flagged if the school had closed meanwhile, out
        changes = [versions.get((visit, n)) for n in (1, 2, 3)]
        assert changes in (["arrived", "left", None], ["arrived", "after_hours", "left"]), changes
    assert len({e["event_id"] for e in events}) == len(versions), "a change sent again keeps its id"
