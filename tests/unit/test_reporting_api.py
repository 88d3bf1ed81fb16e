"""The reporting API refuses bad input with a 4xx that names the problem, before anything is
published or read (the app is built without connecting; these requests never reach a server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.reporting.main import create_app
from shared.auth import issue_token
from tests.helpers import EverySetting
from tests.reports_fixture import ALL_PASS

SECRET = "r" * 40


def headers(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, sub='li', role=role)}"}  # type: ignore[arg-type]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(EverySetting(jwt_secret=SECRET))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        yield client


def inspection(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "activity_id": str(uuid.uuid4()),
        "school_id": "S001",
        "held_at": datetime.now(UTC).isoformat(),
        "activity": {"kind": "inspection", "items": dict(ALL_PASS)},
    }
    return body | changes


def fields_named(response: httpx.Response) -> set[str]:
    return {str(error["loc"][-1]) for error in response.json()["detail"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (inspection(school_id="S999"), "school_id"),
        (inspection(held_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()), "held_at"),
        (inspection(held_at="2026-09-01T10:00:00"), "held_at"),  # no zone
        (inspection(activity={"kind": "inspection", "items": {"cctv": True}}), "inspection"),
        (
            inspection(activity={"kind": "inspection", "items": ALL_PASS | {"moat": True}}),
            "moat",
        ),
        (
            inspection(activity={"kind": "session", "topic": "legal_education", "audience": 0}),
            "audience",
        ),
        (inspection(activity={"kind": "letters", "topic": "astrology", "letters": 5}), "topic"),
        (inspection(activity={"kind": "party"}), "activity"),
        (inspection(activity_id="not-a-uuid"), "activity_id"),
        (inspection(extra="field"), "extra"),
    ],
)
async def test_bad_activities_are_refused_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/activities", json=body, headers=headers("supervisor"))
    assert response.status_code == 422, response.text
    assert field in fields_named(response) or field in response.text


async def test_only_supervisors_and_admins_record_activities(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/activities", json=inspection())).status_code == 401
    for role in ("dispatcher", "unit"):
        response = await client.post("/v1/activities", json=inspection(), headers=headers(role))
        assert response.status_code == 403, role


REPORTS = [
    "/v1/reports/response-times",
    "/v1/reports/alarms",
    "/v1/reports/guard-posts",
    "/v1/reports/coverage",
    "/v1/reports/violations",
    "/v1/reports/inspections",
    "/v1/reports/outreach",
    "/v1/reports/summary",
    "/v1/reports/dashboard",
    "/v1/reports/printable",
    "/v1/activities",
]


@pytest.mark.parametrize("url", REPORTS)
async def test_reports_refuse_filters_they_cannot_answer(
    client: httpx.AsyncClient, url: str
) -> None:
    reader = headers("supervisor")
    day = datetime(2026, 9, 1, tzinfo=UTC).isoformat()
    for params, field, words in (
        ({"township": "Atlantis"}, "township", "unknown township"),
        ({"school_id": "S999"}, "school_id", "unknown school"),
        ({"since": day, "until": day}, "until", "before"),
    ):
        response = await client.get(url, params=params, headers=reader)
        assert response.status_code == 422, params
        (error,) = response.json()["detail"]
        assert error["loc"] == ["query", field] and words in error["msg"], params
    naive = await client.get(url, params={"since": "2026-09-01T00:00:00"}, headers=reader)
    assert naive.status_code == 422
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=headers("unit"))).status_code == 403


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("/v1/reports/alarms", "earthquake"),
        ("/v1/reports/guard-posts", "midnight"),
        ("/v1/reports/coverage", "somewhere"),
        ("/v1/reports/violations", "jaywalking"),
        ("/v1/activities", "party"),
    ],
)
async def test_a_kind_the_report_does_not_know_is_refused(
    client: httpx.AsyncClient, url: str, kind: str
) -> None:
    response = await client.get(url, params={"kind": kind}, headers=headers("supervisor"))
    assert response.status_code == 422 and "kind" in fields_named(response)


async def test_csv_is_the_only_other_format(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/reports/summary", params={"format": "xml"}, headers=headers("supervisor")
    )
    assert response.status_code == 422


async def test_a_language_the_pages_do_not_speak_is_refused(client: httpx.AsyncClient) -> None:
    for path in ("/v1/reports/summary", "/v1/labels"):
        response = await client.get(
            path, params={"format": "csv", "lang": "fr"}, headers=headers("supervisor")
        )
        assert response.status_code == 422 and "lang" in fields_named(response), path


async def test_the_labels_come_in_either_language(client: httpx.AsyncClient) -> None:
    chinese = (await client.get("/v1/labels")).json()
    english = (await client.get("/v1/labels", params={"lang": "en"})).json()
    assert chinese["alarm_kind"]["fire"] == "火情" and english["alarm_kind"]["fire"] == "Fire"


async def test_the_pages_are_served_without_data(client: httpx.AsyncClient) -> None:
    for path in ("/dashboard", "/report"):
        page = await client.get(path)
        assert page.status_code == 200 and '<script src="/signin.js">' in page.text
    script = await client.get("/signin.js")  # the sign-in the pages share
    assert script.status_code == 200 and "/v1/auth/token" in script.text


async def test_an_activity_the_broker_does_not_take_in_time_is_not_accepted() -> None:
    """No broker acknowledgement within PUBLISH_TIMEOUT_S: TimeoutError, which every service
    answers 503 with Retry-After (shared.web); nothing was recorded, the form is resent."""
    import asyncio

    from services.reporting import service
    from services.reporting.models import ActivityRequest
    from shared.provisioning import load_county
    from shared.settings import ROOT
    from shared.topics import Topics
    from tests.fakes.publisher import RecordingPublisher
    from tests.fakes.reporting import InMemoryReportingRepository

    class Stuck(RecordingPublisher):
        async def publish(self, topic: str, key: str, event: object) -> None:  # type: ignore[override]
            await asyncio.sleep(10)

    deps = service.Deps(
        topics=Topics(),
        repo=InMemoryReportingRepository(),
        county=load_county(ROOT / "deploy" / "county.yaml"),
        publisher=Stuck(),
        publish_timeout_s=0.05,
    )
    request = ActivityRequest.model_validate(inspection())
    with pytest.raises(TimeoutError):
        await service.create_activity(deps=deps, request=request, actor="li", now=datetime.now(UTC))
