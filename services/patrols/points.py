"""The patrol points near a position, for a unit terminal choosing where to check in. Pure."""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from shared.geo import EARTH_RADIUS_M, haversine_m
from shared.provisioning import County, PointKind

MAX_WITHIN_M = 20_000
MAX_POINTS = 100


class NearPoint(BaseModel):
    """A patrol point with its school, and how far it is from the asking position."""

    point_id: str
    kind: PointKind
    school_id: str
    school_name: str
    township: str
    lat: float
    lon: float
    radius_m: float = Field(..., description="The geofence a check-in must be inside")
    distance_m: float


def nearest(
    county: County, *, lat: float, lon: float, within_m: float, limit: int
) -> list[NearPoint]:
    """The points within `within_m` of (lat, lon), nearest first, at most `limit`. A box around
    the position is checked first, so a province's points cost a comparison each."""
    dlat = math.degrees(within_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    found: list[NearPoint] = []
    for point in county.patrol_points:
        if abs(point.lat - lat) > dlat or abs(point.lon - lon) > dlon:
            continue
        distance = haversine_m(lat, lon, point.lat, point.lon)
        school = county.school(point.school_id)
        if distance > within_m or school is None:
            continue
        found.append(
            NearPoint(
                point_id=point.point_id,
                kind=point.kind,
                school_id=school.school_id,
                school_name=school.name,
                township=school.township,
                lat=point.lat,
                lon=point.lon,
                radius_m=point.radius_m,
                distance_m=round(distance, 1),
            )
        )
    found.sort(key=lambda p: (p.distance_m, p.point_id))
    return found[:limit]
