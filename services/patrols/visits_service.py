"""Visits to patrol points: live visits folded from the fixes as they arrive, and the visits
to one point over a period (from history and check-ins)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.patrols import visits as visits_model
from services.patrols.deps import Deps
from services.patrols.tracker import Step, UnitTrack, VisitTracker
from shared.errors import invalid_query
from shared.events import PositionReported


async def track_visits(*, deps: Deps, fixes: list[PositionReported]) -> None:
    """Fold fixes into the live visits; visits that ended are published on patrols.visits
    and the tracks that began or ended a visit are stored, both before the batch's offsets
    are committed (a redelivery finds them, and publishes the same visit ids again)."""
    tracker = deps.visits
    async with tracker.lock:
        unknown = sorted({f.unit_id for f in fixes if not tracker.knows(f.unit_id)})
        if unknown:  # first sight since start-up or a rebalance: from the stored tracks
            stored = await deps.repo.load_tracks(unknown)
            for unit_id in unknown:
                tracker.load(unit_id, stored.get(unit_id, UnitTrack()))
        await _apply_step(deps, tracker, tracker.step(fixes))


async def sweep_visits(*, deps: Deps, now: datetime) -> int:
    """End the visits of units silent for 5 min; store the other tracks' newest times."""
    tracker = deps.visits
    async with tracker.lock:
        step = tracker.sweep(now)
        await _apply_step(deps, tracker, step)
        await deps.repo.save_tracks(tracker.take_dirty())
    return len(step.ended)


async def _apply_step(deps: Deps, tracker: VisitTracker, step: Step) -> None:
    if step.ended:
        await deps.publisher.publish_many(
            deps.topics.patrols_visits, [(v.unit_id, v) for v in step.ended]
        )
    if step.changed:
        await deps.repo.save_tracks({u: step.tracks[u] for u in step.changed})
    tracker.apply(step)
    for visit in step.ended:
        deps.metrics.point_visits.labels(visit.closed_by).inc()


MAX_VISIT_SPAN = timedelta(hours=12)


async def visits(
    *, deps: Deps, point_id: str, since: datetime, until: datetime
) -> list[visits_model.Visit]:
    """Visits to a patrol point in [since, until), from positions and check-ins."""
    point = deps.county.point(point_id)
    if point is None:
        raise LookupError(point_id)
    if since >= until or until - since > MAX_VISIT_SPAN:
        raise invalid_query("until", f"since must be before until, at most {MAX_VISIT_SPAN} apart")
    units = [unit.unit_id for unit in deps.county.units]
    fixes = await deps.repo.fixes_in_box(visits_model.bounding_box(point), units, (since, until))
    checkins = await deps.repo.checkins(point_id, since=since, until=until)
    return visits_model.find_visits(point, fixes, checkins)
