"""Hazards (隐患排查整改): reported, assigned with a deadline, overdue past it, rectified (late or
on time), verified or sent back; each change once, on the version it was made on; every
change published whole, what a crash left unpublished by the relay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.patrols import hazards_service
from services.patrols.deps import Deps
from services.patrols.hazards import (
    Assignment,
    HazardRefused,
    HazardReport,
    Rectification,
    Verification,
)
from shared.errors import InvalidInput
from shared.events.hazards import HazardChanged
from shared.provisioning import County
from shared.topics import Topics
from tests.unit.test_patrols_service import make_deps

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
HAZARD = uuid.UUID("6f1c1f9e-0000-4000-8000-000000000001")


def report(**fields: object) -> HazardReport:
    return HazardReport.model_validate(
        {
            "hazard_id": str(HAZARD),
            "school_id": "S001",
            "kind": "street_vending",
            "place": {"lat": 35.7, "lon": 105.1, "description": "北门外"},
            "found_by": "patrol",
            "description": "放学时段流动摊贩占道",
            "photos": ["IMG_0001.jpg"],
        }
        | fields
    )


def changes(deps: Deps) -> list[tuple[int, str, str]]:
    events = deps.publisher.events(Topics().patrols_hazards)  # type: ignore[attr-defined]
    return [(e.version, e.change, e.state) for e in events if isinstance(e, HazardChanged)]


async def assigned(deps: Deps, deadline: datetime) -> HazardChanged:
    await hazards_service.report(deps=deps, request=report(), actor="U001", now=NOW)
    body = Assignment(version=1, department="market_regulation", deadline=deadline)
    return await hazards_service.assign(deps=deps, hazard_id=HAZARD, body=body, actor="li", now=NOW)


async def test_a_hazard_goes_from_open_to_verified_each_change_once(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    opened = await hazards_service.report(deps=deps, request=report(), actor="U001", now=NOW)
    assert (opened.state, opened.school.school_id, opened.reported_by) == ("open", "S001", "U001")
    again = await hazards_service.report(deps=deps, request=report(), actor="U001", now=NOW)
    assert again == opened, "a retry answers the stored hazard"
    deadline = NOW + timedelta(days=7)
    body = Assignment(version=1, department="market_regulation", deadline=deadline)
    made = await hazards_service.assign(deps=deps, hazard_id=HAZARD, body=body, actor="li", now=NOW)
    assert (made.state, made.department, made.deadline) == (
        "assigned",
        "market_regulation",
        deadline,
    )
    retried = await hazards_service.assign(
        deps=deps, hazard_id=HAZARD, body=body, actor="li", now=NOW
    )
    assert retried == made, "the same change again answers what it made"
    later = NOW + timedelta(days=2)
    fixed = await hazards_service.rectify(
        deps=deps,
        hazard_id=HAZARD,
        body=Rectification(version=2, photos=["IMG_0002.jpg"], note="摊贩已劝离"),
        actor="li",
        now=later,
    )
    assert fixed.state == "rectified" and fixed.on_time() is True
    assert fixed.photos == ["IMG_0001.jpg", "IMG_0002.jpg"] and fixed.note == "摊贩已劝离"
    done = await hazards_service.verify(
        deps=deps,
        hazard_id=HAZARD,
        body=Verification(version=3, passed=True),
        actor="zhao",
        now=later,
    )
    assert (done.state, done.verified_at, done.actor) == ("verified", later, "zhao")
    assert changes(deps) == [
        (1, "reported", "open"),
        (2, "assigned", "assigned"),
        (3, "rectified", "rectified"),
        (4, "verified", "verified"),
    ]


async def test_past_its_deadline_a_hazard_is_overdue_once_and_rectified_late(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await assigned(deps, NOW + timedelta(days=1))
    assert await hazards_service.watch_overdue(deps=deps, now=NOW + timedelta(hours=23)) == 0
    assert await hazards_service.watch_overdue(deps=deps, now=NOW + timedelta(days=2)) == 1
    assert await hazards_service.watch_overdue(deps=deps, now=NOW + timedelta(days=3)) == 0
    late = await hazards_service.rectify(
        deps=deps,
        hazard_id=HAZARD,
        body=Rectification(version=3),
        actor="li",
        now=NOW + timedelta(days=4),
    )
    assert late.state == "rectified" and late.on_time() is False
    assert [c[1] for c in changes(deps)] == ["reported", "assigned", "overdue", "rectified"]


async def test_a_failed_verification_sends_it_back_with_a_new_deadline(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await assigned(deps, NOW + timedelta(days=7))
    await hazards_service.rectify(
        deps=deps, hazard_id=HAZARD, body=Rectification(version=2), actor="li", now=NOW
    )
    with pytest.raises(InvalidInput, match="deadline"):
        await hazards_service.verify(
            deps=deps,
            hazard_id=HAZARD,
            body=Verification(version=3, passed=False),
            actor="zhao",
            now=NOW,
        )
    back = await hazards_service.verify(
        deps=deps,
        hazard_id=HAZARD,
        body=Verification(version=3, passed=False, deadline=NOW + timedelta(days=3)),
        actor="zhao",
        now=NOW,
    )
    assert (back.state, back.change, back.rectified_at) == ("assigned", "rejected", None)
    assert back.deadline == NOW + timedelta(days=3)


async def test_changes_the_rules_or_the_version_do_not_allow_are_refused_and_change_nothing(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await hazards_service.report(deps=deps, request=report(), actor="U001", now=NOW)
    with pytest.raises(HazardRefused, match="is open as rectified"):
        await hazards_service.rectify(
            deps=deps, hazard_id=HAZARD, body=Rectification(version=1), actor="li", now=NOW
        )
    with pytest.raises(HazardRefused, match="at version 1, not 4"):
        await hazards_service.assign(
            deps=deps,
            hazard_id=HAZARD,
            body=Assignment(version=4, department="health", deadline=NOW + timedelta(days=1)),
            actor="li",
            now=NOW,
        )
    with pytest.raises(InvalidInput, match="deadline"):
        await hazards_service.assign(
            deps=deps,
            hazard_id=HAZARD,
            body=Assignment(version=1, department="health", deadline=NOW - timedelta(hours=1)),
            actor="li",
            now=NOW,
        )
    with pytest.raises(LookupError):
        await hazards_service.rectify(
            deps=deps, hazard_id=uuid.uuid4(), body=Rectification(version=1), actor="li", now=NOW
        )
    with pytest.raises(HazardRefused, match="another hazard"):
        await hazards_service.report(
            deps=deps, request=report(description="别的"), actor="U001", now=NOW
        )
    with pytest.raises(InvalidInput, match="unknown school"):
        await hazards_service.report(
            deps=deps,
            request=report(hazard_id=str(uuid.uuid4()), school_id="NOPE"),
            actor="U001",
            now=NOW,
        )
    for bad in ({"kind": "ufo"}, {"found_by": "rumour"}, {"description": ""}, {"extra": 1}):
        with pytest.raises(ValidationError):
            report(**bad)
    assert changes(deps) == [(1, "reported", "open")]
    assert len(deps.repo.hazard_records) == 1  # type: ignore[attr-defined]


async def test_a_change_a_crash_left_unpublished_is_published_by_the_relay_once(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    opened = await hazards_service.report(deps=deps, request=report(), actor="U001", now=NOW)
    changed = opened.model_copy(update={"version": 2, "change": "assigned", "state": "assigned"})
    assert await deps.repo.replace_hazard(changed)  # stored, then the process died
    assert await hazards_service.relay(deps=deps, now=NOW + timedelta(seconds=1)) == 0
    assert await hazards_service.relay(deps=deps, now=NOW + timedelta(seconds=6)) == 1
    assert await hazards_service.relay(deps=deps, now=NOW + timedelta(seconds=9)) == 0
    assert [c[:2] for c in changes(deps)] == [(1, "reported"), (2, "assigned")]
