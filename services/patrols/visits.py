"""Visits to patrol points and the dwell time there, derived from position history and
check-ins. Pure: the repository supplies fixes and check-ins, this finds the visits."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from shared.events import CheckinRecorded
from shared.geo import haversine_m
from shared.provisioning import PatrolPoint

# Fixes inside the geofence further apart than this are two visits, not one.
VISIT_GAP = timedelta(minutes=5)
M_PER_DEG_LAT = 111_200.0


class Visit(BaseModel):
    unit_id: str
    point_id: str
    arrived_at: datetime
    left_at: datetime
    dwell_s: float = Field(..., ge=0, description="Last minus first time seen inside")
    fixes: int = Field(..., ge=0, description="Fixes inside the geofence")
    checked_in: bool = Field(..., description="A check-in at the point during the visit")
    source: Literal["positions", "checkin"] = "positions"


# A unit seen somewhere: (unit_id, recorded_at, lat, lon).
Sighting = tuple[str, datetime, float, float]
# A stretch of time: [start, end).
Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Box:
    """A lat/lon box: the cheap prefilter of history before the geofence's exact distance."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def holds(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


def bounding_box(point: PatrolPoint) -> Box:
    """The box around the geofence."""
    dlat = point.radius_m / M_PER_DEG_LAT
    dlon = point.radius_m / (M_PER_DEG_LAT * max(0.01, math.cos(math.radians(point.lat))))
    return Box(point.lat - dlat, point.lat + dlat, point.lon - dlon, point.lon + dlon)


def find_visits(
    point: PatrolPoint,
    fixes: Iterable[Sighting],
    checkins: Iterable[CheckinRecorded],
) -> list[Visit]:
    """Visits from (unit_id, recorded_at, lat, lon) fixes inside the geofence, joined with the
    unit's accepted check-ins; a check-in with no fix inside around it is a visit of its own."""
    inside: dict[str, list[datetime]] = defaultdict(list)
    for unit_id, at, lat, lon in fixes:
        if haversine_m(point.lat, point.lon, lat, lon) <= point.radius_m:
            inside[unit_id].append(at)
    visits: list[Visit] = []
    for unit_id, times in inside.items():
        times.sort()
        first = last = times[0]
        count = 1
        for at in times[1:]:
            if at - last > VISIT_GAP:
                visits.append(_visit(unit_id, point, first, last, count))
                first, count = at, 0
            last = at
            count += 1
        visits.append(_visit(unit_id, point, first, last, count))
    for checkin in checkins:
        if checkin.flagged:
            continue  # recorded outside the geofence: not a visit
        match = next(
            (
                v
                for v in visits
                if v.unit_id == checkin.unit_id
                and v.arrived_at - VISIT_GAP <= checkin.at <= v.left_at + VISIT_GAP
            ),
            None,
        )
        if match is not None:
            match.checked_in = True
        else:
            visits.append(
                Visit(
                    unit_id=checkin.unit_id,
                    point_id=point.point_id,
                    arrived_at=checkin.at,
                    left_at=checkin.at,
                    dwell_s=0,
                    fixes=0,
                    checked_in=True,
                    source="checkin",
                )
            )
    return sorted(visits, key=lambda v: (v.arrived_at, v.unit_id))


def _visit(unit_id: str, point: PatrolPoint, first: datetime, last: datetime, fixes: int) -> Visit:
    return Visit(
        unit_id=unit_id,
        point_id=point.point_id,
        arrived_at=first,
        left_at=last,
        dwell_s=(last - first).total_seconds(),
        fixes=fixes,
        checked_in=False,
    )
