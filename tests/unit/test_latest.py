"""Each unit's newest fix, kept until a background round writes it (services.patrols.latest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.patrols.latest import PendingPositions
from shared.events import PositionReported

T0 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def fix(unit: str, seconds: float) -> PositionReported:
    return PositionReported(
        unit_id=unit, lat=35.7, lon=105.0, recorded_at=T0 + timedelta(seconds=seconds)
    )


async def test_only_each_units_newest_fix_is_written_and_late_ones_are_counted() -> None:
    pending = PendingPositions()
    assert pending.add([fix("U1", 1), fix("U1", 3), fix("U2", 2), fix("U1", 2)]) == 1
    assert pending.newest("U1").recorded_at == fix("U1", 3).recorded_at  # type: ignore[union-attr]
    written: list[list[PositionReported]] = []

    async def write(fixes: list[PositionReported]) -> None:
        written.append(fixes)

    assert await pending.flush(write) == 2
    assert sorted(f.unit_id for f in written[0]) == ["U1", "U2"]
    assert await pending.flush(write) == 0, "nothing new: nothing written"
    assert pending.add([fix("U1", 2.5)]) == 1, "older than one already written"


async def test_a_failed_write_keeps_the_fixes_unless_a_newer_one_came() -> None:
    pending = PendingPositions()
    pending.add([fix("U1", 1), fix("U2", 1)])

    async def down(fixes: list[PositionReported]) -> None:
        pending.add([fix("U1", 5)])  # arrives while the write is in flight
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        await pending.flush(down)
    assert len(pending) == 2
    newest = {u: pending.newest(u).recorded_at for u in ("U1", "U2")}  # type: ignore[union-attr]
    assert newest == {"U1": T0 + timedelta(seconds=5), "U2": T0 + timedelta(seconds=1)}
