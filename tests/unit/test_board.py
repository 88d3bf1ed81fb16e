"""The in-memory board of units that notifications ranks from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifications.board import BoardUnit, UnitBoard
from shared.events import PositionReported, SchoolRef, UnitStatusChanged
from tests.values import nearest

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
GATE = SchoolRef(school_id="S", name="S", township="T", lat=35.70, lon=105.0)


def fix(unit: str, lat: float, age_s: float = 0) -> PositionReported:
    return PositionReported(
        unit_id=unit, lat=lat, lon=105.0, recorded_at=NOW - timedelta(seconds=age_s)
    )


def status(unit: str, value: str, version: int) -> UnitStatusChanged:
    return UnitStatusChanged(
        unit_id=unit,
        status=value,
        previous="available",
        actor=unit,
        version=version,  # type: ignore[arg-type]
    )


def test_the_newest_fix_and_the_highest_status_version_win_in_any_order() -> None:
    board = UnitBoard()
    board.move([fix("u", 35.70), fix("u", 35.60, age_s=30)])
    board.move([fix("u", 35.50, age_s=60)])  # late
    board.set_status(status("u", "busy", 2))
    board.set_status(status("u", "available", 1))  # late
    board.merge(
        [BoardUnit("u", 35.0, 105.0, NOW - timedelta(hours=1), "off_duty", 1)]
    )  # stale copy
    (unit,) = board.units()
    assert (unit.lat, unit.recorded_at, unit.status, unit.status_version) == (
        35.70,
        NOW,
        "busy",
        2,
    )


def test_ranking_skips_stale_busy_and_unplaced_units() -> None:
    board = UnitBoard()
    board.move([fix("near", 35.701), fix("stale", 35.700, age_s=600), fix("busy", 35.700)])
    board.move([fix("mid", 35.71), fix("far", 35.72)])
    board.set_status(status("busy", "busy", 1))
    board.set_status(status("nowhere", "available", 1))  # a status before any fix
    found = nearest(board, limit=2, at=GATE, now=NOW)
    assert [u.unit_id for u in found] == ["near", "mid"]
    assert found[0].distance_m < found[1].distance_m


def test_the_staffed_guard_post_is_kept_even_when_closer_units_fill_the_top() -> None:
    board = UnitBoard()
    board.move([fix("a", 35.7001), fix("b", 35.7002), fix("c", 35.7003), fix("gate", 35.7015)])
    board.set_status(status("gate", "on_post", 1))
    found = nearest(board, limit=3, at=GATE, now=NOW)
    assert [(u.unit_id, u.guard_post) for u in found] == [
        ("gate", True),
        ("a", False),
        ("b", False),
    ]
