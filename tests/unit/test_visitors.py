"""Gate visitor logs: a visitor in once however often the terminal sends it; out once, not
before they came nor in the future; flagged once when still inside at the school's closing
time (county time), or when seen leaving after it; names, phones and plates erased after the
retention period, the visit kept; every change published whole, the relay finishing a crash."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from services.patrols import visitors_service
from services.patrols.deps import Deps
from services.patrols.visitors import GateVisit, VisitorArrival, VisitorDeparture
from services.patrols.visitors_service import VisitRefused
from shared.errors import InvalidInput
from shared.events import GateVisitChanged, SchoolRef
from shared.provisioning import County
from shared.topics import Topics
from tests.fakes.patrols import InMemoryPatrolRepository
from tests.unit.test_patrols_service import make_deps

ARRIVED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 16:00 in the county (Asia/Shanghai)
CLOSING = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 18:00 there
VISIT = uuid.UUID("0b5e7a1c-0000-4000-8000-000000000001")


def arrival(**fields: object) -> VisitorArrival:
    body = {
        "visit_id": str(VISIT),
        "name": "刘建国",
        "phone": "13912345678",
        "organisation": "县自来水公司",
        "purpose": "contractor",
        "host": "总务处",
        "id_checked": True,
        "plate": "甘D12345",
        "arrived_at": ARRIVED.isoformat(),
    }
    return VisitorArrival.model_validate(body | fields)


def out(at: datetime) -> VisitorDeparture:
    return VisitorDeparture(left_at=at)


def changes(deps: Deps) -> list[tuple[int, str, bool]]:
    events = deps.publisher.events(Topics().patrols_gate_visits)  # type: ignore[attr-defined]
    return [(e.version, e.change, e.after_hours) for e in events if isinstance(e, GateVisitChanged)]


def repo(deps: Deps) -> InMemoryPatrolRepository:
    assert isinstance(deps.repo, InMemoryPatrolRepository)
    return deps.repo


async def arrived(deps: Deps) -> None:
    await visitors_service.arrive(
        deps=deps, school_id="S001", request=arrival(), actor="S001", now=ARRIVED
    )


async def test_a_visitor_in_and_out_once_each_however_often_it_is_sent(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    for _ in range(2):
        await arrived(deps)
    with pytest.raises(VisitRefused):
        await visitors_service.arrive(
            deps=deps, school_id="S001", request=arrival(name="别人"), actor="S001", now=ARRIVED
        )
    left_at = ARRIVED + timedelta(minutes=40)
    for _ in range(2):
        visit = await visitors_service.leave(
            deps=deps, school_id="S001", visit_id=VISIT, request=out(left_at), now=left_at
        )
    assert (visit.version, visit.left_at, visit.after_hours) == (2, left_at, False)
    with pytest.raises(VisitRefused, match="left at"):
        later = left_at + timedelta(minutes=5)
        await visitors_service.leave(
            deps=deps, school_id="S001", visit_id=VISIT, request=out(later), now=later
        )
    with pytest.raises(LookupError):
        await visitors_service.leave(
            deps=deps, school_id="S002", visit_id=VISIT, request=out(left_at), now=left_at
        )
    assert changes(deps) == [(1, "arrived", False), (2, "left", False)]
    assert "刘建国" not in str(deps.publisher.events(Topics().patrols_gate_visits))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("left_at", "says"),
    [
        (ARRIVED - timedelta(minutes=1), "before the visitor arrived"),
        (ARRIVED + timedelta(hours=1), "in the future"),
        (ARRIVED + timedelta(days=3), "two days"),
    ],
)
async def test_a_departure_that_cannot_be_true_is_refused_naming_left_at(
    county: County, registry: CollectorRegistry, left_at: datetime, says: str
) -> None:
    deps = make_deps(county, registry)
    await arrived(deps)
    now = ARRIVED + timedelta(minutes=5) if left_at < ARRIVED + timedelta(days=1) else left_at
    with pytest.raises(InvalidInput, match=says) as refused:
        await visitors_service.leave(
            deps=deps, school_id="S001", visit_id=VISIT, request=out(left_at), now=now
        )
    assert "left_at" in str(refused.value.errors)
    assert changes(deps) == [(1, "arrived", False)]


async def test_a_visitor_still_inside_at_closing_is_flagged_once(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await arrived(deps)
    before = CLOSING - timedelta(minutes=1)
    assert await visitors_service.watch_after_hours(deps=deps, now=before) == 0
    assert await visitors_service.watch_after_hours(deps=deps, now=CLOSING) == 1
    assert await visitors_service.watch_after_hours(deps=deps, now=CLOSING) == 0
    left_at = CLOSING + timedelta(minutes=30)
    visit = await visitors_service.leave(
        deps=deps, school_id="S001", visit_id=VISIT, request=out(left_at), now=left_at
    )
    assert visit.after_hours and visit.version == 3
    assert changes(deps) == [(1, "arrived", False), (2, "after_hours", True), (3, "left", True)]


async def test_a_visitor_seen_leaving_after_closing_is_an_after_hours_one(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await arrived(deps)
    left_at = CLOSING + timedelta(seconds=20)  # before the round looked
    visit = await visitors_service.leave(
        deps=deps, school_id="S001", visit_id=VISIT, request=out(left_at), now=left_at
    )
    assert (visit.version, visit.after_hours) == (2, True)
    assert await visitors_service.watch_after_hours(deps=deps, now=left_at) == 0


async def test_personal_fields_are_erased_after_retention_and_the_visit_stays(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await arrived(deps)
    assert await visitors_service.erase_expired(deps=deps, now=ARRIVED + timedelta(days=89)) == 0
    assert await visitors_service.erase_expired(deps=deps, now=ARRIVED + timedelta(days=91)) == 1
    visit = repo(deps).visit_records[VISIT]
    assert (visit.name, visit.phone, visit.organisation, visit.plate) == (None,) * 4
    assert (visit.purpose, visit.host, visit.erased_at is not None) == (
        "contractor",
        "总务处",
        True,
    )
    assert visit.view(clear=True).erased


async def test_a_change_stored_but_not_published_is_published_by_the_relay(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await arrived(deps)
    repo(deps).visits_unpublished.add(VISIT)  # as if it crashed before marking
    now = ARRIVED + timedelta(seconds=10)
    assert await visitors_service.relay(deps=deps, now=now) == 1
    assert await visitors_service.relay(deps=deps, now=now) == 0
    events = deps.publisher.events(Topics().patrols_gate_visits)  # type: ignore[attr-defined]
    assert len(events) == 2 and events[0].event_id == events[1].event_id


def test_the_bureau_sees_a_visitor_masked_and_the_gate_in_clear() -> None:
    request = arrival()
    visit = GateVisit(
        visit_id=VISIT,
        version=1,
        change="arrived",
        school=SchoolRef(school_id="S001", name="一小", township="T", lat=35.0, lon=105.0),
        purpose=request.purpose,
        host=request.host,
        id_checked=True,
        arrived_at=ARRIVED,
        recorded_by="S001",
        changed_at=ARRIVED,
        name=request.name,
        phone=request.phone,
        plate=request.plate,
    )
    masked, clear = visit.view(clear=False), visit.view(clear=True)
    assert (masked.name, masked.phone, masked.plate) == ("刘**", "139****5678", None)
    assert (clear.name, clear.phone, clear.plate) == ("刘建国", "13912345678", "甘D12345")
