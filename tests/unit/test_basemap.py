"""The console map's offline base (services/notifications/basemap.py) from the county file."""

from __future__ import annotations

import json
import re

from services.notifications import basemap
from shared.provisioning import load_county
from shared.settings import ROOT

COUNTY = load_county(ROOT / "deploy" / "county.yaml")


def _inside(lat: float, lon: float, outline: list[list[float]]) -> bool:
    """Left of every edge of a counter-clockwise polygon."""
    corners = [(x, y) for y, x in outline]
    return all(
        basemap._cross(a, b, (lon, lat)) > 0
        for a, b in zip(corners, corners[1:] + corners[:1], strict=True)
    )


def test_each_township_s_outline_holds_its_schools_and_points() -> None:
    outlines = {t.name: t.outline for t in basemap.township_outlines(COUNTY)}
    assert set(outlines) == {s.township for s in COUNTY.schools}
    for school in COUNTY.schools:
        assert _inside(school.lat, school.lon, outlines[school.township]), school.school_id
    township_of = {s.school_id: s.township for s in COUNTY.schools}
    for point in COUNTY.patrol_points:
        assert _inside(point.lat, point.lon, outlines[township_of[point.school_id]])


def test_a_hull_keeps_only_the_corners() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.5, 0.5), (0.5, 0.0)]
    assert basemap.hull(square) == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


def test_without_a_tile_server_the_console_draws_the_offline_base_only() -> None:
    assert basemap.tiles(None, "") is None and basemap.tiles("", "") is None
    osm = basemap.tiles("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap")
    assert osm is not None and "{z}" in osm.url


def test_the_vendored_map_library_is_the_version_the_lock_pins() -> None:
    lock = json.loads((ROOT / "deploy/web/package-lock.json").read_text(encoding="utf-8"))
    pinned = lock["packages"]["node_modules/leaflet"]["version"]
    vendored = ROOT / "services/notifications/static/vendor/leaflet"
    header = (vendored / "leaflet.js").read_text(encoding="utf-8")[:200]
    assert re.search(rf"Leaflet {re.escape(pinned)}\b", header), header
    assert "BSD 2-Clause" in (vendored / "LICENSE").read_text(encoding="utf-8")
