"""The patrol points near a terminal: nearest first, within the distance asked, with schools."""

from __future__ import annotations

from services.patrols import points
from shared.geo import haversine_m
from shared.provisioning import County


def test_points_near_a_position_come_nearest_first_within_the_distance(county: County) -> None:
    school = county.schools[0]
    near = points.nearest(county, lat=school.lat, lon=school.lon, within_m=3000, limit=100)
    assert near, "a school's own points are near it"
    assert [p.distance_m for p in near] == sorted(p.distance_m for p in near)
    every = [
        p for p in county.patrol_points if haversine_m(school.lat, school.lon, p.lat, p.lon) <= 3000
    ]
    assert {p.point_id for p in near} == {p.point_id for p in every}, "the box drops none"
    first = near[0]
    named = county.school(first.school_id)
    assert named is not None and (first.school_name, first.township) == (
        named.name,
        named.township,
    )
    assert len(points.nearest(county, lat=school.lat, lon=school.lon, within_m=3000, limit=2)) == 2
    assert points.nearest(county, lat=0.0, lon=0.0, within_m=3000, limit=20) == [], "nowhere near"
