"""Violations and campaigns: every kind, the plate rules, and what is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.patrols import enforcement_service
from services.patrols.enforcement_service import CampaignExists
from services.patrols.violations import (
    KINDS_WITH_PLATE,
    CampaignRequest,
    ViolationFilter,
    ViolationRequest,
)
from shared.errors import InvalidInput
from shared.events import ViolationKind, ViolationRecorded
from shared.provisioning import County
from shared.topics import Topics
from tests.unit.test_patrols_service import make_deps

NOW = datetime(2026, 6, 1, 7, 30, tzinfo=UTC)


def violation(**overrides: Any) -> ViolationRequest:
    body = {
        "violation_id": str(uuid.uuid4()),
        "kind": "speeding",
        "plate": "甘D12345",
        "place": {"lat": 35.69, "lon": 105.05, "description": "二中北门"},
        "school_id": "S001",
        "observed_at": (NOW - timedelta(minutes=5)).isoformat(),
        "officer": "警号 012345",
        "evidence": ["cam://gate-2/2026-06-01T07:25"],
    } | overrides
    return ViolationRequest.model_validate(body)


CAMPAIGN = CampaignRequest(
    campaign_id="spring-2026",
    name="春季校园周边交通秩序专项整治",
    school_ids=["S001", "S002"],
    starts_on=date(2026, 5, 1),
    ends_on=date(2026, 6, 30),
)


@pytest.mark.parametrize("kind", get_args(ViolationKind))
async def test_every_kind_is_recorded_and_published(
    kind: str, county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await enforcement_service.create_campaign(deps=deps, request=CAMPAIGN, actor="chief", now=NOW)
    plate = "甘D12345" if kind in KINDS_WITH_PLATE else None
    request = violation(kind=kind, plate=plate, campaign_id="spring-2026")
    event = await enforcement_service.record_violation(
        deps=deps, unit_id="U010", request=request, now=NOW
    )
    assert (
        event.kind == kind and event.campaign is not None and event.campaign.name.startswith("春季")
    )
    (published,) = deps.publisher.events(Topics().patrols_violations)  # type: ignore[attr-defined]
    assert published == event
    await enforcement_service.store_violation(deps=deps, event=event)
    await enforcement_service.store_violation(deps=deps, event=event)
    stored = await enforcement_service.violations(
        deps=deps, query=ViolationFilter(campaign_id="spring-2026")
    )
    assert stored == [event]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"kind": "overloading", "plate": None}, "plate", "needs the plate"),
        ({"plate": "ABC"}, "plate", "not a plate"),
        ({"kind": "abducting"}, "kind", "Input should be"),
        ({"place": {"lat": 200, "lon": 105}}, "lat", "less than or equal"),
        ({"observed_at": "2026-06-01T07:00:00"}, "observed_at", "timezone"),
        ({"evidence": ["x" * 501]}, "evidence", "1 to 500"),
        ({"officer": ""}, "officer", "at least 1"),
        ({"unexpected": 1}, "unexpected", "Extra inputs"),
    ],
)
def test_malformed_reports_name_the_field(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        violation(**overrides)
    errors = exc.value.errors()
    assert any(field in map(str, e["loc"]) and message in e["msg"] for e in errors), errors


def test_plates_are_normalised() -> None:
    assert violation(plate="甘d·12345").plate == "甘D12345"
    assert violation(kind="unlicensed_vehicle_carrying_students", plate=None).plate is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"observed_at": (NOW + timedelta(minutes=5)).isoformat()}, "observed_at", "in the future"),
        ({"school_id": "S999"}, "school_id", "unknown school"),
        ({"campaign_id": "nope"}, "campaign_id", "unknown campaign"),
        (
            {"campaign_id": "spring-2026", "observed_at": "2026-04-30T08:00:00+08:00"},
            "campaign_id",
            "runs 2026-05-01",
        ),
        (
            {"campaign_id": "spring-2026", "school_id": "S003"},
            "school_id",
            "not a school of this campaign",
        ),
    ],
)
async def test_reports_that_cannot_be_true_are_refused_and_not_published(
    overrides: dict[str, Any], field: str, message: str, county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await enforcement_service.create_campaign(deps=deps, request=CAMPAIGN, actor="chief", now=NOW)
    with pytest.raises(InvalidInput) as exc:
        await enforcement_service.record_violation(
            deps=deps, unit_id="U010", request=violation(**overrides), now=NOW
        )
    assert [(e["loc"], message in str(e["msg"])) for e in exc.value.errors] == [
        (["body", field], True)
    ]
    assert deps.publisher.events(Topics().patrols_violations) == []  # type: ignore[attr-defined]


async def test_campaigns_are_unique_name_known_schools_and_run_forwards(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await enforcement_service.create_campaign(deps=deps, request=CAMPAIGN, actor="chief", now=NOW)
    again = await enforcement_service.create_campaign(
        deps=deps, request=CAMPAIGN, actor="other", now=NOW
    )
    assert again.created_by == "chief", "a retried request gets the stored campaign"
    opened = deps.publisher.events(Topics().patrols_campaigns)  # type: ignore[attr-defined]
    assert len(opened) == 2 and opened[0] == opened[1], "published again with the same id"
    with pytest.raises(CampaignExists):
        other = CAMPAIGN.model_copy(update={"name": "another campaign"})
        await enforcement_service.create_campaign(deps=deps, request=other, actor="chief", now=NOW)
    with pytest.raises(InvalidInput):
        bad = CAMPAIGN.model_copy(update={"campaign_id": "x", "school_ids": ["S999"]})
        await enforcement_service.create_campaign(deps=deps, request=bad, actor="chief", now=NOW)
    with pytest.raises(ValidationError, match="ends_on is before starts_on"):
        CampaignRequest(
            campaign_id="y", name="y", starts_on=date(2026, 6, 2), ends_on=date(2026, 6, 1)
        )


def test_violation_events_carry_their_contract_fields() -> None:
    fields = set(ViolationRecorded.model_fields)
    assert {
        "event_id",
        "occurred_at",
        "schema_version",
        "violation_id",
        "kind",
        "plate",
        "place",
        "officer",
        "evidence",
        "campaign",
    } <= fields
