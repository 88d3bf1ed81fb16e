"""One plan per school (一校一策): versions written one after another, never over each other; a
retry answers what it made; what a crash left unpublished is published by the relay; the
dispatchers' book keeps each school's newest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.notifications.plans import PlanBook
from services.patrols import plans_service
from services.patrols.deps import Deps
from services.patrols.plans import PlanRequest
from services.patrols.plans_service import PlanConflict
from shared.events.schools import SchoolPlanChanged
from shared.provisioning import County
from shared.topics import Topics
from tests.unit.test_patrols_service import make_deps

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def edit(version: int, **fields: object) -> PlanRequest:
    """An edit replacing `version` (`version_` sets the field itself, for a bad one)."""
    if "version_" in fields:
        version = fields.pop("version_")  # type: ignore[assignment]
    return PlanRequest.model_validate(
        {
            "version": version,
            "risks": ["紧邻国道", "校门口占道经营"],
            "contacts": [{"role": "保卫干部", "phone": "0943-1234567"}],
            "plan_refs": ["会公〔2026〕12号"],
            "gate_notes": "北门放学时段拥堵，南门常闭（钥匙在门卫室）",
        }
        | fields
    )


def published(deps: Deps) -> list[SchoolPlanChanged]:
    events = deps.publisher.events(Topics().patrols_school_plans)  # type: ignore[attr-defined]
    return [e for e in events if isinstance(e, SchoolPlanChanged)]


async def test_each_edit_is_the_next_version_and_a_stale_one_is_refused(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    first = await plans_service.save(
        deps=deps, school_id="S001", request=edit(0), actor="li", now=NOW
    )
    assert (first.version, first.edited_by, first.plan.risks[0]) == (1, "li", "紧邻国道")
    second = await plans_service.save(
        deps=deps, school_id="S001", request=edit(1, risks=["放学拥堵"]), actor="zhao", now=NOW
    )
    assert second.version == 2
    with pytest.raises(PlanConflict, match="at version 2, not 1") as stale:
        await plans_service.save(
            deps=deps, school_id="S001", request=edit(1, risks=["别的"]), actor="li", now=NOW
        )
    assert stale.value.newest == 2
    with pytest.raises(PlanConflict, match="at version 2, not 5"):
        await plans_service.save(deps=deps, school_id="S001", request=edit(5), actor="li", now=NOW)
    versions = await deps.repo.plan_versions("S001")
    assert [(v.version, v.plan.risks) for v in versions] == [
        (1, ["紧邻国道", "校门口占道经营"]),
        (2, ["放学拥堵"]),
    ]
    assert [(e.school_id, e.version) for e in published(deps)] == [("S001", 1), ("S001", 2)]


async def test_the_same_edit_again_answers_the_version_it_made(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    made = await plans_service.save(
        deps=deps, school_id="S002", request=edit(0), actor="li", now=NOW
    )
    again = await plans_service.save(
        deps=deps, school_id="S002", request=edit(0), actor="li", now=NOW + timedelta(seconds=3)
    )
    assert again == made and len(await deps.repo.plan_versions("S002")) == 1
    assert {e.event_id for e in published(deps)} == {published(deps)[0].event_id}, "same event"


async def test_an_unknown_school_or_a_bad_plan_is_refused(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    with pytest.raises(LookupError):
        await plans_service.save(deps=deps, school_id="NOPE", request=edit(0), actor="li", now=NOW)
    for bad in (
        {"version_": -1},
        {"contacts": [{"role": "门卫", "phone": "call me"}]},
        {"risks": ["x" * 201]},
        {"risks": [""]},
        {"gate_notes": "x" * 1001},
        {"surprise": True},
    ):
        with pytest.raises(ValidationError):
            edit(0, **bad)
    assert await deps.repo.plan_versions("NOPE") == [] and published(deps) == []


async def test_a_version_a_crash_left_unpublished_is_published_by_the_relay_once(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    plan = plans_service.SchoolPlan(
        school_id="S003", version=1, plan=edit(0).content(), edited_by="li", edited_at=NOW
    )
    assert await deps.repo.insert_plan(plan)  # stored, then the process died
    assert await plans_service.relay(deps=deps, now=NOW + timedelta(seconds=1)) == 0, "too young"
    assert await plans_service.relay(deps=deps, now=NOW + timedelta(seconds=6)) == 1
    assert await plans_service.relay(deps=deps, now=NOW + timedelta(seconds=9)) == 0
    assert [(e.school_id, e.version) for e in published(deps)] == [("S003", 1)]


def test_the_book_keeps_each_schools_newest_plan() -> None:
    content = edit(0).content()
    book = PlanBook()
    v2 = SchoolPlanChanged(school_id="S001", version=2, plan=content, edited_by="li")
    v1 = SchoolPlanChanged(
        school_id="S001", version=1, plan=edit(0, risks=[]).content(), edited_by="li"
    )
    book.merge([v2, v1])  # an older one arriving later changes nothing
    assert book.of("S001") == (2, content) and book.of("S002") is None and len(book) == 1
