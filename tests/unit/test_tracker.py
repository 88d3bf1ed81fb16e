"""Live visits to patrol points from the stream of fixes: arrival, dwell, departure, gaps,
silence; a redelivered or replayed batch changes nothing; a failed publish leaves the tracker
as it was, so the retry publishes the same visits; a restart resumes from the stored tracks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from services.patrols import visits_service
from services.patrols.deps import Deps
from services.patrols.metrics import PatrolMetrics
from services.patrols.tracker import VisitTracker
from shared.events import PointVisited, PositionReported
from shared.provisioning import County, PatrolPoint
from shared.topics import Topics
from tests.fakes.patrols import InMemoryPatrolRepository
from tests.fakes.publisher import RecordingPublisher

T0 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
GATE = PatrolPoint(
    point_id="S1-gate", school_id="S1", kind="must_reach", lat=35.69, lon=105.05, radius_m=100
)
YARD = PatrolPoint(
    point_id="S1-yard", school_id="S1", kind="stop", lat=35.6905, lon=105.05, radius_m=100
)
DEG_PER_M = 1 / 111_200


def fix(unit: str, seconds: float, metres_north: float) -> PositionReported:
    """A fix `metres_north` of the gate, `seconds` after T0."""
    return PositionReported(
        unit_id=unit,
        lat=GATE.lat + metres_north * DEG_PER_M,
        lon=GATE.lon,
        recorded_at=T0 + timedelta(seconds=seconds),
    )


def test_a_unit_that_arrives_stays_and_leaves_makes_one_visit_with_its_dwell() -> None:
    tracker = VisitTracker([GATE])
    fixes = [fix("U1", -10, 500), fix("U1", 0, 50), fix("U1", 60, 0), fix("U1", 120, 20)]
    step = tracker.step(fixes)
    assert step.ended == [] and step.changed == {"U1"}
    tracker.apply(step)
    left = tracker.step([fix("U1", 130, 400)])
    (visit,) = left.ended
    assert (visit.point_id, visit.school_id, visit.point_kind) == ("S1-gate", "S1", "must_reach")
    assert (visit.arrived_at, visit.left_at) == (T0, T0 + timedelta(seconds=120))
    assert (visit.dwell_s, visit.fixes, visit.closed_by) == (120.0, 3, "left")


def test_fixes_inside_more_than_five_minutes_apart_are_two_visits() -> None:
    tracker = VisitTracker([GATE])
    step = tracker.step([fix("U1", 0, 0), fix("U1", 30, 0), fix("U1", 400, 0)])
    (first,) = step.ended
    assert (first.dwell_s, first.fixes, first.closed_by) == (30.0, 2, "gap")
    tracker.apply(step)
    assert tracker.tracks["U1"].open["S1-gate"].arrived_at == T0 + timedelta(seconds=400)


def test_a_silent_unit_has_left_after_five_minutes() -> None:
    tracker = VisitTracker([GATE])
    tracker.apply(tracker.step([fix("U1", 0, 0), fix("U1", 10, 0)]))
    assert tracker.sweep(T0 + timedelta(minutes=5)).ended == []
    swept = tracker.sweep(T0 + timedelta(minutes=5, seconds=11))
    assert [(v.closed_by, v.dwell_s) for v in swept.ended] == [("silent", 10.0)]
    tracker.apply(swept)
    assert tracker.tracks["U1"].open == {}


def test_overlapping_geofences_are_visited_each_and_units_apart() -> None:
    tracker = VisitTracker([GATE, YARD])
    step = tracker.step([fix("U1", 0, 30), fix("U2", 0, -60), fix("U1", 20, 30)])
    tracker.apply(step)
    assert set(tracker.tracks["U1"].open) == {"S1-gate", "S1-yard"}
    assert set(tracker.tracks["U2"].open) == {"S1-gate"}
    ended = tracker.step([fix("U1", 40, 2000)]).ended
    assert sorted(v.point_id for v in ended) == ["S1-gate", "S1-yard"]


def test_a_redelivered_batch_or_an_older_fix_changes_nothing() -> None:
    tracker = VisitTracker([GATE])
    batch = [fix("U1", 0, 0), fix("U1", 10, 0)]
    tracker.apply(tracker.step(batch))
    again = tracker.step([*batch, fix("U1", 5, 900)])  # redelivery, and a late fix outside
    assert again.ended == [] and again.changed == set()
    tracker.apply(again)
    assert tracker.tracks["U1"].open["S1-gate"].fixes == 2


def deps_with(tracker: VisitTracker, repo: InMemoryPatrolRepository, publisher: object) -> Deps:
    return Deps(
        repo=repo,
        publisher=publisher,  # type: ignore[arg-type]
        topics=Topics(),
        county=County(name="t", schools=[], devices=[], units=[]),
        metrics=PatrolMetrics(CollectorRegistry()),
        max_future_skew_s=30,
        visits=tracker,
    )


class BrokenPublisher(RecordingPublisher):
    async def publish_many(self, topic: str, items: object) -> None:  # type: ignore[override]
        raise ConnectionError("broker down")


def published(publisher: RecordingPublisher) -> list[PointVisited]:
    events = publisher.events(Topics().patrols_visits)
    return [e for e in events if isinstance(e, PointVisited)]


async def test_a_failed_publish_changes_nothing_and_the_retry_publishes_the_visit_once() -> None:
    repo, tracker = InMemoryPatrolRepository(), VisitTracker([GATE])
    good = RecordingPublisher()
    await visits_service.track_visits(deps=deps_with(tracker, repo, good), fixes=[fix("U1", 0, 0)])
    leaving = [fix("U1", 10, 0), fix("U1", 20, 800)]
    with pytest.raises(ConnectionError):
        await visits_service.track_visits(
            deps=deps_with(tracker, repo, BrokenPublisher()), fixes=leaving
        )
    assert tracker.tracks["U1"].open  # still inside, as before the failed batch
    await visits_service.track_visits(deps=deps_with(tracker, repo, good), fixes=leaving)
    await visits_service.track_visits(deps=deps_with(tracker, repo, good), fixes=leaving)
    (visit,) = published(good)
    assert (visit.dwell_s, visit.fixes) == (10.0, 2)


async def test_after_a_restart_the_stored_tracks_resume_the_same_visit() -> None:
    """Only arrivals and departures are stored at once; the newest times on the sweep. A
    restart that replays the batches since the last commit ends the visit with the same id."""
    repo = InMemoryPatrolRepository()
    before, after = RecordingPublisher(), RecordingPublisher()
    first = VisitTracker([GATE])
    arrive, stay = [fix("U1", 0, 0)], [fix("U1", 30, 0), fix("U1", 60, 0)]
    await visits_service.track_visits(deps=deps_with(first, repo, before), fixes=arrive)
    await visits_service.track_visits(deps=deps_with(first, repo, before), fixes=stay)
    # killed here: the newest times were not stored; Kafka redelivers `stay` (not committed)
    second = VisitTracker([GATE])
    for batch in (stay, [fix("U1", 90, 600)]):
        await visits_service.track_visits(deps=deps_with(second, repo, after), fixes=batch)
    (visit,) = published(after)
    uninterrupted = VisitTracker([GATE])
    whole = uninterrupted.step(arrive + stay + [fix("U1", 90, 600)])
    assert [visit] == whole.ended
    assert (visit.dwell_s, visit.fixes) == (60.0, 3)


async def test_the_sweep_stores_the_newest_times_it_had_kept_in_memory() -> None:
    repo, tracker = InMemoryPatrolRepository(), VisitTracker([GATE])
    deps = deps_with(tracker, repo, RecordingPublisher())
    await visits_service.track_visits(deps=deps, fixes=[fix("U1", 0, 0)])
    await visits_service.track_visits(deps=deps, fixes=[fix("U1", 30, 0)])
    assert repo.tracks["U1"].watermark == T0
    assert await visits_service.sweep_visits(deps=deps, now=T0) == 0
    assert repo.tracks["U1"].watermark == T0 + timedelta(seconds=30)
