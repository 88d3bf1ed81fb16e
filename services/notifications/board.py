"""The units as notifications sees them, in memory: each unit's latest fix and status, from
`patrols.positions` and `patrols.unit-status`. Ranking reads only this board: a haversine over
every unit of a county (tens to hundreds) is cheap, where a `$geoNear` and the 2dsphere
upserts behind it were the embedded database's heaviest work (docs/benchmarks.md).
MongoDB keeps a copy (collection `unit_positions`) that a restarted or second instance loads
and refreshes from.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from shared.events import (
    DISPATCHABLE,
    NearbyUnit,
    PositionReported,
    UnitStatus,
    UnitStatusChanged,
    newest_per_unit,
)
from shared.geo import haversine_m


@dataclass(frozen=True)
class BoardUnit:
    unit_id: str
    lat: float | None = None
    lon: float | None = None
    recorded_at: datetime | None = None
    status: UnitStatus | None = None
    status_version: int = 0

    @property
    def dispatchable(self) -> bool:
        """Available or on post; a unit that never reported a status is on patrol."""
        return self.status is None or self.status in DISPATCHABLE


class UnitBoard:
    def __init__(self) -> None:
        self._units: dict[str, BoardUnit] = {}

    def merge(self, units: Iterable[BoardUnit]) -> None:
        """Take what is newer: the fix by time, the status by version (a stored copy, or
        another instance's writes)."""
        for unit in units:
            held = self._units.get(unit.unit_id, BoardUnit(unit.unit_id))
            if unit.recorded_at is not None and (
                held.recorded_at is None or held.recorded_at < unit.recorded_at
            ):
                held = replace(held, lat=unit.lat, lon=unit.lon, recorded_at=unit.recorded_at)
            if unit.status_version > held.status_version:
                held = replace(held, status=unit.status, status_version=unit.status_version)
            self._units[unit.unit_id] = held

    def move(self, fixes: list[PositionReported]) -> None:
        """Each unit to its newest fix, unless the board holds a newer one."""
        self.merge(
            BoardUnit(f.unit_id, f.lat, f.lon, f.recorded_at) for f in newest_per_unit(fixes)
        )

    def set_status(self, change: UnitStatusChanged) -> None:
        self.merge([BoardUnit(change.unit_id, status=change.status, status_version=change.version)])

    def nearest(
        self,
        *,
        lat: float,
        lon: float,
        radius_m: float,
        limit: int,
        fresh_since: datetime,
        guard_post_radius_m: float,
        without: Collection[str] = (),
    ) -> list[NearbyUnit]:
        """Fresh, dispatchable units within the radius (none of `without`), at most `limit`: a
        unit on post within `guard_post_radius_m` (the place's staffed guard post) first, then
        closest first."""
        found = []
        for unit in self._units.values():
            if unit.lat is None or unit.lon is None or unit.recorded_at is None:
                continue
            if unit.unit_id in without:
                continue
            if unit.recorded_at < fresh_since or not unit.dispatchable:
                continue
            distance = haversine_m(lat, lon, unit.lat, unit.lon)
            if distance <= radius_m:
                found.append(
                    NearbyUnit(
                        unit_id=unit.unit_id,
                        distance_m=round(distance, 1),
                        lat=unit.lat,
                        lon=unit.lon,
                        guard_post=unit.status == "on_post" and distance <= guard_post_radius_m,
                    )
                )
        found.sort(key=lambda u: (not u.guard_post, u.distance_m))
        return found[:limit]

    def distance(self, unit_id: str, *, lat: float, lon: float) -> float | None:
        """Metres from the unit's latest fix to the place; None without a fix."""
        unit = self._units.get(unit_id)
        if unit is None or unit.lat is None or unit.lon is None:
            return None
        return round(haversine_m(lat, lon, unit.lat, unit.lon), 1)

    def get(self, unit_id: str) -> BoardUnit | None:
        return self._units.get(unit_id)

    def units(self) -> list[BoardUnit]:
        return list(self._units.values())

    def __len__(self) -> int:
        return len(self._units)
