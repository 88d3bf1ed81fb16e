"""Community checks end to end on the real broker and database: bad checks refused naming the
field with nothing kept or published (and no identity number echoed); checks streamed through
a kill of patrols, each stored and counted once; no identity number in clear in any collection,
topic or log; people shown masked, in clear only to a supervisor with a purpose, every such read
in the audit; personal fields gone once the retention period is over."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from bson import json_util
from pymongo import AsyncMongoClient

from tests.community import check_body, resident_id
from tests.conftest import KAFKA_BOOTSTRAP, MONGODB_URL, Namespace
from tests.helpers import end_offsets, post_until_answered, wait_for
from tools.stack import Stack

NEAR_S021 = {"lat": 35.786257, "lon": 104.926282, "address": "郭城驿镇南街8号"}  # 100 m north
SINCE = {"since": (datetime.now(UTC) - timedelta(days=400)).isoformat()}


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, str]:
    return {"PERSONAL_ERASE_CHECK_S": "0.5"}  # the default retention: 180 days


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("patrols", "reporting")


async def test_a_bad_check_is_refused_naming_the_field_and_nothing_is_kept(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    url = f"{stack['patrols'].url}/v1/community-checks"
    unit = ns.auth("unit", "U001")
    topic = ns.topics.patrols_community_checks
    before = await end_offsets(KAFKA_BOOTSTRAP, topic)
    mistyped = resident_id(21)[:17] + ("1" if resident_id(21)[17] != "1" else "2")
    person = {"role": "tenant", "name": "张三", "registered": True}
    cases: list[tuple[dict[str, Any], str]] = [
        (check_body(people=[person | {"id_number": mistyped}]), "check character"),
        (check_body(people=[person | {"id_number": "123"}]), "id_number"),
        (check_body(people=[person | {"phone": "call me"}]), "phone"),
        (check_body(people=[person | {"name": ""}]), "name"),
        (check_body(lat=35.0), "no school within 500 m"),
        (check_body(premises_kind="karaoke"), "premises_kind"),
        (check_body(failed=["guest_register"]), "failed"),
        (check_body(at=(datetime.now(UTC) + timedelta(hours=2)).isoformat()), "at"),
        (check_body(at=1764547200), "RFC 3339"),
        (check_body(issues=[{"kind": "ufo", "description": "x"}]), "kind"),
        (check_body(check_id="nope"), "check_id"),
        (check_body(extra=1), "extra"),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for body, named in cases:
            answer = await client.post(url, json=body, headers=unit)
            assert answer.status_code == 422 and named in answer.text, (body, answer.text)
            assert mistyped not in answer.text, "an identity number is never echoed"
        assert (await client.post(url, json=check_body())).status_code == 401
        assert (await client.get(url, headers=unit)).json() == []
        chief, admin = ns.auth("supervisor", "li"), ns.auth("admin", "root")
        missing = f"{url}/{uuid.uuid4()}"
        assert (await client.get(missing, headers=chief)).status_code == 404
        no_purpose = await client.get(f"{missing}/people", headers=chief)
        assert no_purpose.status_code == 422 and "purpose" in no_purpose.text
        people = await client.get(f"{missing}/people", params={"purpose": "核查"}, headers=unit)
        assert people.status_code == 403, "names in clear: supervisors only"
        audit = f"{stack['patrols'].url}/v1/audit/person-reads"
        assert (await client.get(audit, headers=chief)).status_code == 403, "admins audit"
        bad_match = await client.post(
            f"{url}/match", json={"id_number": mistyped, "purpose": "核查"}, headers=chief
        )
        assert bad_match.status_code == 422 and mistyped not in bad_match.text
        reads = (await client.get(audit, headers=admin)).json()
        assert reads == [], "nothing was shown, so nothing was read"
    assert await end_offsets(KAFKA_BOOTSTRAP, topic) == before
    async with AsyncMongoClient[dict[str, Any]](MONGODB_URL) as mongo:
        checks = mongo[f"{ns.db_prefix}patrols"]["community_checks"]
        assert await checks.count_documents({}) == 0


async def accepted(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> None:
    answer = await post_until_answered(client, url, body)
    assert answer.status_code == 201, answer.text


async def test_checks_streamed_through_a_kill_are_each_kept_and_counted_once(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    patrols = stack["patrols"]
    bodies = [check_body(**NEAR_S021) for _ in range(16)]
    headers = ns.auth("unit", "U021")
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        url = f"{patrols.url}/v1/community-checks"
        for body in bodies[:6]:
            await accepted(client, url, body)
        patrols.kill()  # mid-stream: the terminal keeps sending, and sends again
        sending = asyncio.gather(*(accepted(client, url, b) for b in bodies[6:11]))
        await asyncio.sleep(1)
        patrols.start()
        await sending
        await asyncio.to_thread(patrols.wait_ready)
        for body in bodies[5:]:  # the one before the kill again, and the rest
            await accepted(client, url, body)

        chief = ns.auth("supervisor", "li")

        async def counted() -> list[str] | None:
            got = await client.get(
                f"{stack['reporting'].url}/v1/reports/community-checks",
                params=SINCE | {"township": "郭城驿镇", "format": "csv"},
                headers=chief,
            )
            lines = got.text.splitlines()
            return lines if len(lines) > 1 and lines[1].startswith(",16,") else None

        lines = await wait_for(counted, timeout_s=30)
        assert lines[0].startswith("乡镇,检查次数,出租房屋,旅馆,登记人员,未登记人员,")
        # 16 rental flats, 2 people each (one unregistered, newly arrived), 2 issues, 1 hazard
        assert lines[1] == ",16,16,0,32,16,16,16,32,16"
        assert lines[2] == "郭城驿镇,16,16,0,32,16,16,16,32,16"
    async with AsyncMongoClient[dict[str, Any]](MONGODB_URL) as mongo:
        db = mongo[f"{ns.db_prefix}patrols"]
        ids = [b["check_id"] for b in bodies]
        assert await db["community_checks"].count_documents({"_id": {"$in": ids}}) == 16
        assert await db["community_checks"].count_documents({"unpublished": True}) == 0
        hazards = await db["hazards"].count_documents({"school.school_id": "S021"})
        assert hazards == 16, "each check's hazard once"


async def every_message(prefix: str) -> list[bytes]:
    """Every message on every topic of the namespace, raw."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=KAFKA_BOOTSTRAP, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith(prefix))
        assert any(t.endswith("patrols.community-checks") for t in topics)
        consumer.subscribe(topics)
        out: list[bytes] = []
        while batch := await consumer.getmany(timeout_ms=2000):
            out += [
                (r.key or b"") + (r.value or b"") for records in batch.values() for r in records
            ]
        return out
    finally:
        await consumer.stop()


async def every_document(ns: Namespace) -> str:
    """Every document of every collection of the namespace's databases, as one text."""
    texts: list[str] = []
    async with AsyncMongoClient[dict[str, Any]](MONGODB_URL) as mongo:
        for name in await mongo.list_database_names():
            if not name.startswith(ns.db_prefix):
                continue
            for collection in await mongo[name].list_collection_names():
                async for doc in mongo[name][collection].find():
                    texts.append(json_util.dumps(doc, ensure_ascii=False))
    return "\n".join(texts)


async def test_no_identity_number_in_clear_anywhere_and_every_read_of_people_is_audited(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    url = f"{stack['patrols'].url}/v1/community-checks"
    unit, chief, admin = ns.auth("unit", "U001"), ns.auth("supervisor", "li"), ns.auth("admin", "a")
    body = check_body(premises_kind="hotel", premises_name="迎宾旅馆", checked=["guest_register"])
    body["failed"] = []
    body["people"] = [p | {"id_number": resident_id(31 + i)} for i, p in enumerate(body["people"])]
    numbers = [p["id_number"] for p in body["people"]]
    async with httpx.AsyncClient(timeout=10) as client:
        recorded = await client.post(url, json=body, headers=unit)
        assert recorded.status_code == 201, recorded.text
        assert recorded.json()["people_shown"] is None and recorded.json()["people"] == 2
        check = f"{url}/{body['check_id']}"
        masked = (await client.get(check, headers=unit)).json()["people_shown"]
        assert [p["name"] for p in masked] == ["王**", "李*"]
        assert masked[0]["id_masked"] == numbers[0][:3] + "*" * 11 + numbers[0][-4:]
        assert masked[0]["phone"] == "138****1234"
        clear = await client.get(f"{check}/people", params={"purpose": "复查旅客"}, headers=chief)
        assert [p["name"] for p in clear.json()["people_shown"]] == ["王小明", "李四"]
        assert not any(n in clear.text for n in numbers), "never kept, so never shown"
        found = await client.post(
            f"{url}/match", json={"id_number": numbers[1], "purpose": "核查流动人口"}, headers=unit
        )
        assert [(f["check_id"], f["person"]["name"]) for f in found.json()] == [
            (body["check_id"], "李*")
        ]
        reads = await client.get(f"{stack['patrols'].url}/v1/audit/person-reads", headers=admin)
        mine = [r for r in reads.json() if body["check_id"] in r["check_ids"]]
        assert [(r["actor"], r["action"], r["purpose"]) for r in mine] == [
            ("U001", "match", "核查流动人口"),
            ("li", "people", "复查旅客"),
            ("U001", "check", None),
        ]

    async def published() -> list[bytes] | None:
        messages = await every_message(ns.topics.prefix)
        return messages if any(body["check_id"].encode() in m for m in messages) else None

    messages = await wait_for(published, timeout_s=20)
    for number in numbers:
        assert not any(number.encode() in m for m in messages), "a topic holds an id number"
    assert not any("王小明".encode() in m for m in messages), "topics carry counts, no names"
    documents = await every_document(ns)
    assert body["check_id"] in documents and "王小明" in documents  # the scan sees the check
    for number in numbers:
        assert number not in documents, "a collection holds an id number in clear"
    for service in stack.names:
        log = stack[service].log_path.read_text(encoding="utf-8", errors="replace")
        assert not any(n in log for n in numbers), f"{service}'s log holds an id number"
        assert "王小明" not in log, f"{service}'s log holds a name"


async def test_personal_fields_are_gone_after_the_retention_period_the_counts_stay(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    url = f"{stack['patrols'].url}/v1/community-checks"
    unit, chief = ns.auth("unit", "U001"), ns.auth("supervisor", "li")
    old = check_body(at=(datetime.now(UTC) - timedelta(days=181)).isoformat())  # entered late
    number = old["people"][0]["id_number"]
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(url, json=old, headers=unit)).status_code == 201

        async def erased() -> dict[str, Any] | None:
            got = await client.get(
                f"{url}/{old['check_id']}/people", params={"purpose": "到期"}, headers=chief
            )
            held = got.json()
            return held if held["erased_at"] else None

        held = await wait_for(erased, timeout_s=20)  # the erase round, every 0.5 s here
        assert held["people"] == 2 and held["unregistered"] == 1
        for person in held["people_shown"]:
            assert person["erased"] and (person["name"], person["phone"], person["id_masked"]) == (
                None,
                None,
                None,
            )
        found = await client.post(
            f"{url}/match", json={"id_number": number, "purpose": "核查"}, headers=chief
        )
        assert old["check_id"] not in found.text, "the hash is erased too: no match"
    async with AsyncMongoClient[dict[str, Any]](MONGODB_URL) as mongo:
        doc = await mongo[f"{ns.db_prefix}patrols"]["community_checks"].find_one(
            {"_id": old["check_id"]}
        )
    assert doc is not None
    text = json.dumps(doc["people"], ensure_ascii=False)
    assert "王小明" not in text and "id_hash" not in text.replace('"id_hash": null', "")
