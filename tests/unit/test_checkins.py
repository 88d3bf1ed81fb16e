"""Geofenced check-ins at patrol points: inside, outside (refused), outside insisted (flagged)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.patrols import enforcement_service
from services.patrols.models import CheckinRequest
from shared.errors import InvalidInput
from shared.provisioning import County
from shared.topics import Topics
from tests.unit.test_patrols_service import make_deps

NOW = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)
DEG_PER_M = 0.001 / 111.2


def checkin(county: County, metres_north: float, **overrides: Any) -> CheckinRequest:
    point = county.point("S001-must_reach")
    assert point is not None and point.radius_m == 60
    body = {
        "checkin_id": str(uuid.uuid4()),
        "point_id": point.point_id,
        "lat": point.lat + metres_north * DEG_PER_M,
        "lon": point.lon,
        "at": NOW.isoformat(),
    } | overrides
    return CheckinRequest.model_validate(body)


async def test_inside_the_geofence_is_accepted(county: County, registry: CollectorRegistry) -> None:
    deps = make_deps(county, registry)
    event = await enforcement_service.check_in(
        deps=deps, unit_id="U001", request=checkin(county, 40), now=NOW
    )
    assert not event.flagged and round(event.distance_m, -1) == 40 and event.school_id == "S001"
    assert deps.publisher.events(Topics().patrols_checkins) == [event]  # type: ignore[attr-defined]


async def test_outside_is_refused_with_the_distance_and_nothing_published(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    with pytest.raises(InvalidInput) as exc:
        await enforcement_service.check_in(
            deps=deps, unit_id="U001", request=checkin(county, 260), now=NOW
        )
    assert "200 m outside the 60 m geofence" in str(exc.value.errors[0]["msg"])
    assert deps.publisher.sent == []  # type: ignore[attr-defined]
    assert (
        registry.get_sample_value("safecampus_checkins_total", {"outcome": "refused_geofence"}) == 1
    )


async def test_outside_insisted_is_recorded_flagged_with_the_distance(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    request = checkin(county, 260, insist=True, note="gate blocked by vendors")
    event = await enforcement_service.check_in(deps=deps, unit_id="U001", request=request, now=NOW)
    assert event.flagged and round(event.distance_m, -1) == 260
    await enforcement_service.store_checkin(deps=deps, event=event)
    await enforcement_service.store_checkin(deps=deps, event=event)
    stored = await deps.repo.checkins(
        "S001-must_reach", since=NOW - timedelta(hours=1), until=NOW + timedelta(seconds=1)
    )
    assert stored == [event]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"point_id": "NOPE"}, "point_id"), ({"at": (NOW + timedelta(minutes=5)).isoformat()}, "at")],
)
async def test_unknown_points_and_future_times_are_refused(
    overrides: dict[str, Any], field: str, county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    with pytest.raises(InvalidInput) as exc:
        await enforcement_service.check_in(
            deps=deps, unit_id="U001", request=checkin(county, 0, **overrides), now=NOW
        )
    assert exc.value.errors[0]["loc"] == ["body", field]
