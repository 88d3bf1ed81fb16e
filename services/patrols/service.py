"""Patrols: units' positions and history, and their status. The other subjects sit beside
this file, each with its service and repository part: visits to patrol points
(visits_service, visits_repository), enforcement: campaigns, violations and check-ins
(enforcement_service, enforcement_repository), and guard posts (guard_posts_service,
guard_posts_repository). Every function takes its dependencies as `deps` (deps.Deps)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from services.patrols import status as status_rules
from services.patrols.deps import Deps
from services.patrols.models import BatchAccepted, PositionBatch, StoredFix, UnitState
from services.patrols.status import StatusRefused
from services.patrols.visits_service import track_visits
from shared.carry import carry
from shared.errors import InvalidInput, invalid_query
from shared.events import PositionReported, UnitStatus, UnitStatusChanged, stable_id
from shared.faults import is_unavailable

MAX_HISTORY_SPAN = timedelta(hours=24)


def check_batch(batch: PositionBatch, *, now: datetime, max_future_skew_s: float) -> None:
    """Refuse the whole batch if any fix is from the future (clock or forgery; never truth)."""
    limit = now + timedelta(seconds=max_future_skew_s)
    errors: list[dict[str, object]] = [
        {
            "loc": ["body", "fixes", index, "recorded_at"],
            "msg": f"more than {max_future_skew_s:g} s in the future",
            "type": "future_fix",
        }
        for index, fix in enumerate(batch.fixes)
        if fix.recorded_at > limit
    ]
    if errors:
        raise InvalidInput(errors)


async def accept_positions(
    *, deps: Deps, unit_id: str, batch: PositionBatch, now: datetime
) -> BatchAccepted:
    """Publish every fix keyed by unit; the event id derives from (unit, time), so a batch
    posted twice is stored once."""
    deps.metrics.fixes_received.inc(len(batch.fixes))
    deps.metrics.batch_size.observe(len(batch.fixes))
    try:
        check_batch(batch, now=now, max_future_skew_s=deps.max_future_skew_s)
    except InvalidInput:
        deps.metrics.fixes_refused.labels("future").inc(len(batch.fixes))
        raise
    events = [
        (
            unit_id,
            carry(
                PositionReported,
                fix,
                event_id=stable_id("fix", unit_id, fix.recorded_at.isoformat()),
                occurred_at=fix.recorded_at,
                unit_id=unit_id,
            ),
        )
        for fix in batch.fixes
    ]
    try:
        async with asyncio.timeout(deps.publish_timeout_s):
            await deps.publisher.publish_many(deps.topics.patrols_positions, events)
    except Exception as exc:
        if is_unavailable(exc):
            deps.metrics.fixes_refused.labels("broker_unavailable").inc(len(events))
        raise  # 503: the terminal keeps the batch and posts it again (stored once)
    deps.metrics.fixes_accepted.inc(len(events))
    return BatchAccepted(accepted=len(events))


async def record_positions(*, deps: Deps, fixes: list[PositionReported]) -> None:
    """Store a batch of fixes (history once each, the unit moved to its newest fix). A fix
    older than the unit's latest is out of order: kept in history, never its position."""
    unknown = sorted({fix.unit_id for fix in fixes if deps.county.unit(fix.unit_id) is None})
    if unknown:
        raise ValueError(f"fixes for unknown units {unknown}")
    deps.metrics.fixes_stored.inc(await deps.repo.record_positions(fixes))
    deps.metrics.fixes_out_of_order.inc(deps.latest.add(fixes))
    await track_visits(deps=deps, fixes=fixes)


async def prune_history(*, deps: Deps, now: datetime) -> int:
    """Apply the retention policy: fixes older than `history_retention` are deleted."""
    pruned = await deps.repo.prune_history(
        unit_ids=[unit.unit_id for unit in deps.county.units], before=now - deps.history_retention
    )
    deps.metrics.fixes_pruned.inc(pruned)
    return pruned


async def get(*, deps: Deps, unit_id: str) -> UnitState | None:
    return await current_unit(deps=deps, unit_id=unit_id)


async def current_unit(*, deps: Deps, unit_id: str) -> UnitState | None:
    """The stored unit, at its newest fix even if that one is not written yet."""
    unit = await deps.repo.get_unit(unit_id)
    fix = deps.latest.newest(unit_id)
    if unit is None or fix is None or (unit.recorded_at and unit.recorded_at >= fix.recorded_at):
        return unit
    return unit.model_copy(update={"lat": fix.lat, "lon": fix.lon, "recorded_at": fix.recorded_at})


async def flush_latest(*, deps: Deps) -> int:
    """Write each unit's newest fix noted since the last round (services.patrols.latest)."""
    return await deps.latest.flush(deps.repo.move_units)


async def recover_latest(*, deps: Deps) -> None:
    """At start-up: a fix stored in history but not yet written to its unit when the process
    died moves the unit now (the history is written before a batch is committed)."""
    units = [unit.unit_id for unit in deps.county.units]
    await deps.repo.move_units(await deps.repo.newest_in_history(units))


async def history(*, deps: Deps, unit_id: str, since: datetime, until: datetime) -> list[StoredFix]:
    if since >= until:
        raise invalid_query("until", "since must be before until")
    if until - since > MAX_HISTORY_SPAN:
        raise invalid_query("until", f"at most {MAX_HISTORY_SPAN} at a time")
    return await deps.repo.history(unit_id, since=since, until=until)


async def change_status(
    *, deps: Deps, unit_id: str, status: UnitStatus, actor: str, reason: str | None, now: datetime
) -> UnitState:
    """Apply the status rules and store the change with its event (compare-and-set), then
    publish it on patrols.unit-status. Raises StatusRefused with the reason."""
    for _ in range(5):
        unit = await deps.repo.get_unit(unit_id)
        if unit is None:
            raise LookupError(unit_id)
        status_rules.check(unit.status, status)
        version = unit.status_version + 1
        event = UnitStatusChanged(
            event_id=stable_id("unit-status", unit_id, str(version)),
            occurred_at=now,
            unit_id=unit_id,
            status=status,
            previous=unit.status,
            actor=actor,
            reason=reason,
            version=version,
        )
        if await deps.repo.set_status(unit, event):
            deps.metrics.status_changes.labels(status).inc()
            return await relay_status(deps=deps, unit_id=unit_id)
    raise StatusRefused("the unit's status changed meanwhile; try again")


async def relay_status(*, deps: Deps, unit_id: str) -> UnitState:
    """Publish the unit's pending status events in order, removing each once on the broker."""
    unit = await deps.repo.get_unit(unit_id)
    assert unit is not None
    for event in unit.outbox:
        await deps.publisher.publish(deps.topics.patrols_unit_status, unit_id, event)
        await deps.repo.pull_status_event(unit_id, event.event_id)
    return unit


async def relay_pending(*, deps: Deps) -> None:
    """Finish publications a crash interrupted (the background relay)."""
    for unit in await deps.repo.units_with_outbox():
        await relay_status(deps=deps, unit_id=unit.unit_id)
