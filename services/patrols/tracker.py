"""Live visits to patrol points, from the stream of fixes: which units are inside which
geofence, and since when. A visit ends when the unit's next fix is outside, when fixes inside
are more than VISIT_GAP apart (two visits), or when the unit falls silent for VISIT_GAP.

Pure and two-phase, so nothing is half-done when a publish fails: `step` and `sweep` compute
the new state of the units they touch and the visits that ended, without changing the
tracker; the caller publishes, stores, then `apply`s."""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from services.patrols.visits import VISIT_GAP, bounding_box
from shared.events import PointVisited, PositionReported, stable_id
from shared.geo import haversine_m
from shared.provisioning import PatrolPoint

ClosedBy = Literal["left", "gap", "silent"]
CELL_DEG = 0.01  # grid of about 1.1 km: a fix is tested only against the points of its cell


@dataclass(frozen=True)
class OpenVisit:
    point_id: str
    arrived_at: datetime
    last_seen: datetime
    fixes: int


@dataclass(frozen=True)
class UnitTrack:
    """One unit's part of the tracker: its newest fix seen, and the visits it is in."""

    watermark: datetime | None = None
    open: Mapping[str, OpenVisit] = field(default_factory=dict)


@dataclass
class Step:
    """What a step or sweep decided: new tracks of the units it touched, the visits that
    ended, and the units whose visits began or ended (to be stored before the offsets move)."""

    tracks: dict[str, UnitTrack] = field(default_factory=dict)
    ended: list[PointVisited] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG)


class VisitTracker:
    """The tracker of one patrols instance: the units of its partitions, loaded on first sight
    (restart, rebalance) from the stored tracks."""

    def __init__(self, points: Sequence[PatrolPoint]) -> None:
        self.points = {p.point_id: p for p in points}
        self.grid: dict[tuple[int, int], list[PatrolPoint]] = defaultdict(list)
        for point in points:
            box = bounding_box(point)
            (lo_i, lo_j), (hi_i, hi_j) = (
                _cell(box.min_lat, box.min_lon),
                _cell(box.max_lat, box.max_lon),
            )
            for i in range(lo_i, hi_i + 1):
                for j in range(lo_j, hi_j + 1):
                    self.grid[(i, j)].append(point)
        self.tracks: dict[str, UnitTrack] = {}
        self.dirty: set[str] = set()  # tracks changed since they were last stored
        self.lock = asyncio.Lock()  # one step, sweep or flush at a time

    def knows(self, unit_id: str) -> bool:
        return unit_id in self.tracks

    def load(self, unit_id: str, track: UnitTrack) -> None:
        self.tracks[unit_id] = track

    def inside(self, lat: float, lon: float) -> set[str]:
        return {
            p.point_id
            for p in self.grid.get(_cell(lat, lon), ())
            if haversine_m(p.lat, p.lon, lat, lon) <= p.radius_m
        }

    def step(self, fixes: Iterable[PositionReported]) -> Step:
        """Fold fixes in; a fix not newer than its unit's newest (out of order, or seen before
        a restart) changes nothing."""
        by_unit: dict[str, list[PositionReported]] = defaultdict(list)
        for fix in fixes:
            by_unit[fix.unit_id].append(fix)
        result = Step()
        for unit_id, unit_fixes in by_unit.items():
            track = self.tracks.get(unit_id, UnitTrack())
            result.tracks[unit_id] = self._advance(unit_id, track, unit_fixes, result)
        return result

    def _advance(
        self, unit_id: str, track: UnitTrack, fixes: list[PositionReported], result: Step
    ) -> UnitTrack:
        watermark, visits = track.watermark, dict(track.open)
        for fix in sorted(fixes, key=lambda f: f.recorded_at):
            at = fix.recorded_at
            if watermark is not None and at <= watermark:
                continue
            watermark = at
            inside = self.inside(fix.lat, fix.lon)
            for point_id, visit in list(visits.items()):
                if point_id not in inside:
                    result.ended.append(self._ended(unit_id, visit, "left"))
                    del visits[point_id]
                elif at - visit.last_seen > VISIT_GAP:
                    result.ended.append(self._ended(unit_id, visit, "gap"))
                    visits[point_id] = OpenVisit(point_id, at, at, 1)
                else:
                    visits[point_id] = replace(visit, last_seen=at, fixes=visit.fixes + 1)
                    continue
                result.changed.add(unit_id)
            for point_id in inside - visits.keys():
                visits[point_id] = OpenVisit(point_id, at, at, 1)
                result.changed.add(unit_id)
        return UnitTrack(watermark, visits)

    def sweep(self, now: datetime) -> Step:
        """End the visits of units that have sent nothing for VISIT_GAP."""
        result = Step()
        for unit_id, track in self.tracks.items():
            silent = [v for v in track.open.values() if now - v.last_seen > VISIT_GAP]
            if not silent:
                continue
            result.ended += [self._ended(unit_id, v, "silent") for v in silent]
            still = {k: v for k, v in track.open.items() if v not in silent}
            result.tracks[unit_id] = UnitTrack(track.watermark, still)
            result.changed.add(unit_id)
        return result

    def apply(self, step: Step) -> None:
        self.tracks.update(step.tracks)
        self.dirty |= step.tracks.keys() - step.changed

    def take_dirty(self) -> dict[str, UnitTrack]:
        """Tracks changed only in their newest fix or last-seen times, to store lazily."""
        dirty, self.dirty = self.dirty, set()
        return {unit_id: self.tracks[unit_id] for unit_id in dirty}

    def _ended(self, unit_id: str, visit: OpenVisit, closed_by: ClosedBy) -> PointVisited:
        point = self.points[visit.point_id]
        return PointVisited(
            event_id=stable_id("visit", unit_id, visit.point_id, visit.arrived_at.isoformat()),
            occurred_at=visit.last_seen,
            visit_id=stable_id(unit_id, visit.point_id, visit.arrived_at.isoformat()),
            unit_id=unit_id,
            point_id=visit.point_id,
            school_id=point.school_id,
            point_kind=point.kind,
            arrived_at=visit.arrived_at,
            left_at=visit.last_seen,
            dwell_s=(visit.last_seen - visit.arrived_at).total_seconds(),
            fixes=visit.fixes,
            closed_by=closed_by,
        )
