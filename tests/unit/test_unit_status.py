"""Unit status: the rules, the change with its event, and who the nearest-unit search sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from prometheus_client import CollectorRegistry

from services.notifications import service as notifications
from services.patrols import service
from services.patrols.status import NEXT, StatusRefused, check
from shared.events import UnitStatus, UnitStatusChanged
from shared.provisioning import County
from shared.topics import Topics
from tests.unit.test_notifications_service import fix, raised
from tests.unit.test_notifications_service import make_deps as notification_deps
from tests.unit.test_patrols_service import make_deps

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
STATUSES: tuple[UnitStatus, ...] = (
    "available",
    "busy",
    "en_route",
    "on_scene",
    "on_post",
    "off_duty",
)


@pytest.mark.parametrize(("current", "new"), list(product(STATUSES, STATUSES)))
def test_every_pair_of_statuses_is_allowed_or_refused_with_a_reason(
    current: UnitStatus, new: UnitStatus
) -> None:
    if new in NEXT[current]:
        check(current, new)
        return
    with pytest.raises(StatusRefused) as exc:
        check(current, new)
    assert current in exc.value.reason


def test_a_unit_on_scene_cannot_go_off_duty_without_clearing() -> None:
    with pytest.raises(StatusRefused, match="cannot go from on_scene to off_duty"):
        check("on_scene", "off_duty")


async def test_a_change_is_stored_with_its_event_and_published_in_version_order(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await deps.repo.provision_units(county.units)
    await service.change_status(
        deps=deps, unit_id="U001", status="en_route", actor="U001", reason=None, now=NOW
    )
    state = await service.change_status(
        deps=deps, unit_id="U001", status="on_scene", actor="U001", reason="arrived", now=NOW
    )
    assert (state.status, state.status_version) == ("on_scene", 2)
    events = [
        e
        for e in deps.publisher.events(Topics().patrols_unit_status)
        if isinstance(e, UnitStatusChanged)
    ]  # type: ignore[attr-defined]
    assert [(e.previous, e.status, e.version) for e in events] == [
        ("available", "en_route", 1),
        ("en_route", "on_scene", 2),
    ]
    assert (await deps.repo.get_unit("U001")).outbox == []  # type: ignore[union-attr]
    with pytest.raises(StatusRefused, match="already on_scene"):
        await service.change_status(
            deps=deps, unit_id="U001", status="on_scene", actor="U001", reason=None, now=NOW
        )


async def test_a_notifications_read_model_sends_only_dispatchable_units(
    registry: CollectorRegistry,
) -> None:
    deps = notification_deps(registry)
    await notifications.record_positions(
        deps=deps, fixes=[fix("busy", 100), fix("free", 900), fix("post", 1500)]
    )

    def change(unit: str, status: UnitStatus, version: int) -> UnitStatusChanged:
        return UnitStatusChanged(
            unit_id=unit, status=status, previous="available", actor=unit, version=version
        )

    await notifications.record_status(deps=deps, change=change("busy", "busy", 1))
    await notifications.record_status(deps=deps, change=change("post", "on_post", 1))
    await notifications.record_status(deps=deps, change=change("free", "busy", 1))
    await notifications.record_status(deps=deps, change=change("free", "available", 2))
    await notifications.record_status(
        deps=deps, change=change("free", "busy", 1)
    )  # late, older: ignored
    entry = await notifications.on_lifecycle(
        deps=deps, event=raised(), now=NOW + timedelta(seconds=1)
    )
    assert entry is not None and [u.unit_id for u in entry.nearest_units] == ["free", "post"]
