"""What the console's map draws under the live layers: the county's tiles when a tile server is
configured (the bureau's own, Tianditu with a key, OpenStreetMap), and always an offline base
from the provisioning file: each township's outline (the hull around its schools and patrol
points, a little wider), the schools and the patrol points."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from services.notifications.models import MapPoint, MapTiles, MapTownship
from shared.provisioning import County

MARGIN_DEG = 0.004  # about 400 m around a township's outermost school or point

Point = tuple[float, float]  # (lon, lat)


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def hull(points: Iterable[Point]) -> list[Point]:
    """The convex hull, counter-clockwise (Andrew's monotone chain)."""
    ordered = sorted(set(points))
    if len(ordered) < 3:
        return ordered

    def half(run: list[Point]) -> list[Point]:
        chain: list[Point] = []
        for p in run:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    return half(ordered) + half(ordered[::-1])


def township_outlines(county: County) -> list[MapTownship]:
    """Each township as the hull around its schools and patrol points, widened by a margin."""
    places: dict[str, list[Point]] = defaultdict(list)
    township_of = {s.school_id: s.township for s in county.schools}
    for school in county.schools:
        places[school.township].append((school.lon, school.lat))
    for point in county.patrol_points:
        if point.school_id in township_of:
            places[township_of[point.school_id]].append((point.lon, point.lat))
    outlines = []
    for name, found in sorted(places.items()):
        widened = [
            (lon + dx, lat + dy)
            for lon, lat in found
            for dx in (-MARGIN_DEG, MARGIN_DEG)
            for dy in (-MARGIN_DEG, MARGIN_DEG)
        ]
        outline = [[round(lat, 6), round(lon, 6)] for lon, lat in hull(widened)]
        outlines.append(MapTownship(name=name, outline=outline))
    return outlines


def patrol_points(county: County) -> list[MapPoint]:
    return [
        MapPoint(point_id=p.point_id, school_id=p.school_id, kind=p.kind, lat=p.lat, lon=p.lon)
        for p in county.patrol_points
    ]


def tiles(url: str | None, attribution: str) -> MapTiles | None:
    """The tile server the console loads its base from, if one is configured."""
    return None if not url else MapTiles(url=url, attribution=attribution)


@dataclass(frozen=True)
class BaseMap:
    """The console map's base, worked out once from the county file and the settings."""

    townships: list[MapTownship] = field(default_factory=list)
    points: list[MapPoint] = field(default_factory=list)
    tiles: MapTiles | None = None


def base_map(county: County, tile_url: str | None, attribution: str) -> BaseMap:
    return BaseMap(township_outlines(county), patrol_points(county), tiles(tile_url, attribution))
