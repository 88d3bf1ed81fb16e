from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from services.patrols import service
from services.patrols.deps import Deps
from services.patrols.metrics import PatrolMetrics
from services.patrols.models import PositionBatch
from shared.errors import InvalidInput
from shared.events import PositionReported
from shared.provisioning import County
from shared.topics import Topics
from tests.fakes.patrols import InMemoryPatrolRepository
from tests.fakes.publisher import RecordingPublisher

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def make_deps(county: County, registry: CollectorRegistry) -> Deps:
    return Deps(
        repo=InMemoryPatrolRepository(),
        publisher=RecordingPublisher(),
        topics=Topics(),
        county=county,
        metrics=PatrolMetrics(registry),
        max_future_skew_s=30,
    )


def batch(*offsets_s: int) -> PositionBatch:
    return PositionBatch.model_validate(
        {
            "fixes": [
                {
                    "lat": 35.69,
                    "lon": 105.05 + i * 0.001,
                    "recorded_at": (NOW + timedelta(seconds=o)).isoformat(),
                }
                for i, o in enumerate(offsets_s)
            ]
        }
    )


async def test_fix_ids_derive_from_unit_and_time_so_a_repeated_batch_is_the_same(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await service.accept_positions(deps=deps, unit_id="U001", batch=batch(-2, -1), now=NOW)
    await service.accept_positions(deps=deps, unit_id="U001", batch=batch(-2, -1), now=NOW)
    events = deps.publisher.events(Topics().patrols_positions)  # type: ignore[attr-defined]
    assert len(events) == 4
    assert [e.event_id for e in events[:2]] == [e.event_id for e in events[2:]]
    fixes = [e for e in events if isinstance(e, PositionReported)]
    await service.record_positions(deps=deps, fixes=fixes[:2])
    await service.record_positions(deps=deps, fixes=fixes[2:])
    stored = await service.history(
        deps=deps, unit_id="U001", since=NOW - timedelta(minutes=1), until=NOW
    )
    assert [f.recorded_at for f in stored] == [
        NOW - timedelta(seconds=2),
        NOW - timedelta(seconds=1),
    ]


async def test_a_fix_from_the_future_refuses_the_batch_naming_it(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    with pytest.raises(InvalidInput) as exc:
        await service.accept_positions(deps=deps, unit_id="U001", batch=batch(-5, 31, 29), now=NOW)
    assert [e["loc"] for e in exc.value.errors] == [["body", "fixes", 1, "recorded_at"]]
    assert deps.publisher.sent == []  # type: ignore[attr-defined]


async def test_an_older_fix_does_not_move_the_unit_back(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await deps.repo.provision_units(county.units)
    newer = PositionReported(unit_id="U001", lat=35.70, lon=105.0, recorded_at=NOW)
    older = PositionReported(
        unit_id="U001", lat=35.60, lon=105.0, recorded_at=NOW - timedelta(minutes=1)
    )
    await service.record_positions(deps=deps, fixes=[newer])
    await service.record_positions(deps=deps, fixes=[older])
    unit = await service.get(deps=deps, unit_id="U001")
    assert unit is not None and unit.lat == 35.70
    assert registry.get_sample_value("safecampus_fixes_out_of_order_total") == 1
    history = await service.history(
        deps=deps, unit_id="U001", since=NOW - timedelta(hours=1), until=NOW + timedelta(seconds=1)
    )
    assert [f.lat for f in history] == [35.60, 35.70]  # history keeps both, oldest first


async def test_a_fix_for_an_unknown_unit_cannot_be_processed(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    ghost = PositionReported(unit_id="GHOST", lat=35.7, lon=105.0, recorded_at=NOW)
    with pytest.raises(ValueError, match="unknown units"):
        await service.record_positions(deps=deps, fixes=[ghost])
