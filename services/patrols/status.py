"""Unit status rules: which status may follow which. Pure, so every rule is unit-tested."""

from __future__ import annotations

from shared.events import UnitStatus

INITIAL: UnitStatus = "available"  # a provisioned unit that never reported is on patrol

NEXT: dict[UnitStatus, frozenset[UnitStatus]] = {
    "off_duty": frozenset({"available", "on_post"}),
    "available": frozenset({"busy", "en_route", "on_post", "off_duty"}),
    "busy": frozenset({"available", "en_route", "off_duty"}),
    "en_route": frozenset({"on_scene", "available", "busy"}),
    "on_scene": frozenset({"available", "busy"}),
    "on_post": frozenset({"available", "en_route", "off_duty"}),
}


class StatusRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check(current: UnitStatus, new: UnitStatus) -> None:
    """Raises StatusRefused with the reason when `new` may not follow `current`."""
    if new == current:
        raise StatusRefused(f"unit is already {current}")
    if new not in NEXT[current]:
        allowed = ", ".join(sorted(NEXT[current]))
        raise StatusRefused(f"cannot go from {current} to {new} (allowed: {allowed})")
