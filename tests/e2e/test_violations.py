"""Violations and campaigns over HTTP: every kind stored once, bad input refused, nothing
published or stored for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import httpx

from services.patrols.violations import KINDS_WITH_PLATE
from shared.events import ViolationKind
from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import end_offsets, wait_for
from tools.stack import Stack


def report(kind: str, **overrides: Any) -> dict[str, Any]:
    return {
        "violation_id": str(uuid.uuid4()),
        "kind": kind,
        "plate": "甘D12345" if kind in KINDS_WITH_PLATE else None,
        "place": {"lat": 35.68, "lon": 105.04, "description": "校门口"},
        "school_id": "S001",
        "observed_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "officer": "012345",
        "campaign_id": "school-run-2026",
    } | overrides


async def test_violations_of_every_kind_are_stored_once_and_bad_ones_refused(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    url = stack["patrols"].url
    unit = ns.auth("unit", "U010")
    today = datetime.now(UTC).date()
    campaign = {
        "campaign_id": "school-run-2026",
        "name": "护校安园交通整治",
        "starts_on": (today - timedelta(days=30)).isoformat(),
        "ends_on": (today + timedelta(days=30)).isoformat(),
    }
    async with httpx.AsyncClient(timeout=15) as client:
        assert (
            await client.post(f"{url}/v1/campaigns", json=campaign, headers=unit)
        ).status_code == 403
        created = await client.post(
            f"{url}/v1/campaigns", json=campaign, headers=ns.auth("supervisor", "chief")
        )
        assert created.status_code == 201, created.text
        again = await client.post(
            f"{url}/v1/campaigns", json=campaign, headers=ns.auth("supervisor", "chief")
        )
        assert again.status_code == 201 and again.json() == created.json()  # a retry
        clash = await client.post(
            f"{url}/v1/campaigns",
            json=campaign | {"name": "another"},
            headers=ns.auth("supervisor", "chief"),
        )
        assert clash.status_code == 409

        bodies = [report(kind) for kind in get_args(ViolationKind)]
        for body in [*bodies, bodies[0]]:  # the first one twice: one record
            response = await client.post(f"{url}/v1/units/U010/violations", json=body, headers=unit)
            assert response.status_code == 202, response.text

        before = await end_offsets(KAFKA_BOOTSTRAP, ns.topics.patrols_violations)
        bad = [
            (report("speeding", plate=None), unit, 422),
            (report("speeding", campaign_id="nope"), unit, 422),
            (
                report("other", observed_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()),
                unit,
                422,
            ),
            (report("other", school_id="S999"), unit, 422),
            (report("other"), ns.auth("unit", "U011"), 403),
            (report("other"), {}, 401),
        ]
        for body, headers, status in bad:
            response = await client.post(
                f"{url}/v1/units/U010/violations", json=body, headers=headers
            )
            assert response.status_code == status, response.text
        assert await end_offsets(KAFKA_BOOTSTRAP, ns.topics.patrols_violations) == before

        async def stored() -> list[dict[str, Any]] | None:
            listed = await client.get(
                f"{url}/v1/violations",
                params={"campaign_id": "school-run-2026"},
                headers=ns.auth("supervisor", "chief"),
            )
            rows: list[dict[str, Any]] = listed.json()
            return rows if len(rows) >= len(bodies) else None

        rows = await wait_for(stored)
    assert sorted(r["violation_id"] for r in rows) == sorted(b["violation_id"] for b in bodies)
    assert sorted(r["kind"] for r in rows) == sorted(get_args(ViolationKind))
    assert {r["campaign"]["name"] for r in rows} == {"护校安园交通整治"}


async def test_checkins_inside_outside_and_insisted(stack: Stack, e2e_namespace: Namespace) -> None:
    from shared.provisioning import load_county
    from shared.settings import ROOT

    ns = e2e_namespace
    point = load_county(ROOT / "deploy" / "county.yaml").point("S002-stop")
    assert point is not None
    url = stack["patrols"].url
    unit = ns.auth("unit", "U012")
    now = datetime.now(UTC)

    def body(metres: float, **extra: Any) -> dict[str, Any]:
        return {
            "checkin_id": str(uuid.uuid4()),
            "point_id": point.point_id,
            "lat": point.lat + metres * 0.001 / 111.2,
            "lon": point.lon,
            "at": now.isoformat(),
        } | extra

    async with httpx.AsyncClient(timeout=15) as client:
        inside = await client.post(f"{url}/v1/units/U012/checkins", json=body(10), headers=unit)
        assert inside.status_code == 202 and inside.json()["flagged"] is False
        outside = await client.post(f"{url}/v1/units/U012/checkins", json=body(500), headers=unit)
        assert outside.status_code == 422 and "outside the 40 m geofence" in outside.text
        insisted = await client.post(
            f"{url}/v1/units/U012/checkins", json=body(500, insist=True), headers=unit
        )
        assert insisted.status_code == 202 and insisted.json()["flagged"] is True

        async def stored() -> list[dict[str, Any]] | None:
            listed = await client.get(
                f"{url}/v1/points/{point.point_id}/checkins",
                params={
                    "since": (now - timedelta(minutes=1)).isoformat(),
                    "until": (now + timedelta(minutes=1)).isoformat(),
                },
                headers=ns.auth("supervisor", "chief"),
            )
            rows: list[dict[str, Any]] = listed.json()
            return rows if len(rows) >= 2 else None

        rows = await wait_for(stored)
    assert sorted(r["flagged"] for r in rows) == [False, True]


async def test_visits_and_dwell_from_positions_and_a_check_in(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    from shared.provisioning import load_county
    from shared.settings import ROOT

    ns = e2e_namespace
    point = load_county(ROOT / "deploy" / "county.yaml").point("S006-must_patrol")
    assert point is not None
    url = stack["patrols"].url
    unit = ns.auth("unit", "U013")
    start = datetime.now(UTC) - timedelta(minutes=10)
    fixes = [
        {
            "lat": point.lat + 50 * 0.001 / 111.2,
            "lon": point.lon,
            "recorded_at": (start + timedelta(seconds=30 * i)).isoformat(),
        }
        for i in range(7)  # three minutes inside the geofence
    ]
    async with httpx.AsyncClient(timeout=15) as client:
        assert (
            await client.post(f"{url}/v1/units/U013/positions", json={"fixes": fixes}, headers=unit)
        ).status_code == 202
        body = {
            "checkin_id": str(uuid.uuid4()),
            "point_id": point.point_id,
            "lat": point.lat,
            "lon": point.lon,
            "at": (start + timedelta(minutes=1)).isoformat(),
        }
        assert (
            await client.post(f"{url}/v1/units/U013/checkins", json=body, headers=unit)
        ).status_code == 202
        window = {
            "since": (start - timedelta(minutes=1)).isoformat(),
            "until": datetime.now(UTC).isoformat(),
        }

        async def visits() -> list[dict[str, Any]] | None:
            found = await client.get(
                f"{url}/v1/points/{point.point_id}/visits",
                params=window,
                headers=ns.auth("supervisor", "c"),
            )
            rows: list[dict[str, Any]] = found.json()
            return rows if rows and rows[0]["checked_in"] and rows[0]["fixes"] == 7 else None

        (visit,) = await wait_for(visits)
        too_long = {"since": (start - timedelta(hours=13)).isoformat(), "until": start.isoformat()}
        refused = await client.get(
            f"{url}/v1/points/{point.point_id}/visits",
            params=too_long,
            headers=ns.auth("supervisor", "c"),
        )
    assert (visit["unit_id"], visit["dwell_s"], visit["source"]) == ("U013", 180.0, "positions")
    assert refused.status_code == 422
