"""Video patrol checks end to end on the real broker and database: the command centre records
what a gate camera showed; bad checks are refused naming the field with nothing published; a
check sent twice is one row of the day's bulletin (通报), printable and as CSV."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import end_offsets, post_until_answered, wait_for
from tools.stack import Stack


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("patrols", "reporting")


def check(**fields: Any) -> dict[str, Any]:
    return {
        "check_id": str(uuid.uuid4()),
        "school_id": "S021",
        "post_id": "S021-stop",
        "at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "officer_on_post": False,
        "traffic": "congested",
        "patrol_seen": False,
        "snapshot": "cam-S021-gate/0712.jpg",
        "note": "校门口无人值守，车辆排队",
    } | fields


async def test_a_check_is_refused_naming_the_field_or_recorded_once_into_the_bulletin(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    url = f"{stack['patrols'].url}/v1/video-checks"
    dispatcher = ns.auth("dispatcher", "chen")
    before = await end_offsets(KAFKA_BOOTSTRAP, ns.topics.patrols_video_checks)
    cases: list[tuple[dict[str, Any], int, str]] = [
        (check(school_id="S404"), 422, "school_id"),
        (check(post_id="S022-stop"), 422, "post_id"),  # another school's post
        (check(post_id="S021-must_reach"), 422, "post_id"),  # not a guard post
        (check(officer_on_post=None), 422, "officer_on_post"),
        (check(post_id=None), 422, "officer_on_post"),
        (check(traffic="jammed"), 422, "traffic"),
        (check(at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()), 422, "at"),
        (check(extra=1), 422, "extra"),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for body, status, named in cases:
            answer = await client.post(url, json=body, headers=dispatcher)
            assert answer.status_code == status and named in answer.text, (body, answer.text)
        unit = await client.post(url, json=check(), headers=ns.auth("unit", "U001"))
        assert unit.status_code == 403
        assert await end_offsets(KAFKA_BOOTSTRAP, ns.topics.patrols_video_checks) == before

        body = check()
        for _ in range(2):  # sent again: the same record
            accepted = await client.post(url, json=body, headers=dispatcher)
            assert accepted.status_code == 202, accepted.text
        today = {
            "since": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
        }
        chief = ns.auth("supervisor", "li")

        async def rows() -> list[str] | None:
            got = await client.get(
                f"{stack['reporting'].url}/v1/reports/video-checks",
                params=today | {"format": "csv"},
                headers=chief,
            )
            lines = got.text.splitlines()
            return lines if len(lines) == 2 else None

        lines = await wait_for(rows, timeout_s=30, interval_s=0.5)
        assert lines[0].startswith(
            "时间,乡镇,学校,护学岗,视频见警,定位在岗,视频与定位不符,交通状况"
        )
        assert ",S021-stop,否,,否,拥堵,否,cam-S021-gate/0712.jpg," in lines[1]
        printed = await client.get(
            f"{stack['reporting'].url}/v1/reports/video-bulletin",
            params=today | {"lang": "en"},
            headers=chief,
        )
        assert printed.status_code == 200
        assert "1 video checks: 1 posts without an officer, 1 congested" in printed.text


async def send_until_accepted(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> None:
    answer = await post_until_answered(client, url, body)
    assert answer.status_code == 202, answer.text


async def test_checks_streamed_through_kills_of_patrols_and_reporting_are_each_one_row(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    patrols, reporting = stack["patrols"], stack["reporting"]
    url = f"{patrols.url}/v1/video-checks"
    bodies = [check(school_id="S022", post_id="S022-stop", officer_on_post=True) for _ in range(12)]
    async with httpx.AsyncClient(timeout=10, headers=ns.auth("dispatcher", "chen")) as client:
        for body in bodies[:4]:
            await send_until_accepted(client, url, body)
        reporting.kill()  # the checks wait on the topic
        patrols.kill()  # and the console keeps sending
        sending = asyncio.gather(*(send_until_accepted(client, url, b) for b in bodies[4:8]))
        await asyncio.sleep(1)
        patrols.start()
        await sending
        await asyncio.to_thread(patrols.wait_ready)
        for body in bodies[3:]:  # one sent before the kills again, and the rest
            await send_until_accepted(client, url, body)
        reporting.start()
        await asyncio.to_thread(reporting.wait_ready)
        today = {
            "since": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
            "school_id": "S022",
        }

        async def counted() -> dict[str, Any] | None:
            got = await client.get(
                f"{reporting.url}/v1/reports/video-checks",
                params=today,
                headers=ns.auth("supervisor", "li"),
            )
            body: dict[str, Any] = got.json()
            return body if body["checks"] >= len(bodies) else None

        bulletin = await wait_for(counted, timeout_s=30, interval_s=0.5)
    assert bulletin["checks"] == len(bodies), "each check once"
    assert len(bulletin["rows"]) == len(bodies) and bulletin["officer_absent"] == 0
