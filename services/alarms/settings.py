"""Settings of the alarms service: deadlines, folding, the press rate limit and journal,
and button supervision."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from shared.settings import ROOT, DeviceSettings


class AlarmsSettings(DeviceSettings):
    ack_timeout_s: float = Field(30.0, description="No acknowledgement by then → escalated")
    on_scene_timeout_s: float = Field(900.0, description="No unit on scene by then → escalated")
    escalation_step_s: float = Field(60.0, description="Escalate again after this long")
    fold_window_s: float = Field(
        600.0,
        description="Presses at a school with an open alarm raised within this window fold into it",
    )
    press_burst: int = Field(10, description="Presses a device may send at once")
    press_refill_s: float = Field(3.0, description="Then one press per this many seconds")
    tick_s: float = Field(0.5, description="How often deadlines and the journal are checked")
    journal_dir: Path = Field(
        ROOT / ".local" / "journal", description="Press journal while the broker is unreachable"
    )
    publish_timeout_s: float = Field(
        2.0,
        description="Broker acknowledgement wait at ingress; then the press is journaled",
    )
    heartbeat_every_s: int = Field(
        60, ge=1, le=3600, description="Heartbeat interval told to every device (`next_in_s`)"
    )
    offline_after_s: float = Field(
        200.0, gt=0, description="A device neither beating nor pressing this long is offline"
    )
    battery_low_pct: int = Field(20, ge=0, le=100, description="Battery below this: a trouble")
    battery_restored_pct: int = Field(
        25, ge=0, le=100, description="The battery trouble ends at or above this (no flapping)"
    )
    trouble_repeat_s: float = Field(
        4 * 3600.0, gt=0, description="An open trouble is announced again this often"
    )
    supervision_round_s: float = Field(
        2.0, gt=0, description="How often silent devices and open troubles are looked at"
    )
    heartbeat_commit_s: float = Field(
        0.25, gt=0, description="Heartbeats within this are written in one batch"
    )

    @model_validator(mode="after")
    def _supervision_consistent(self) -> Self:
        if self.offline_after_s <= self.heartbeat_every_s:
            raise ValueError("OFFLINE_AFTER_S must be longer than HEARTBEAT_EVERY_S")
        if self.battery_restored_pct < self.battery_low_pct:
            raise ValueError("BATTERY_RESTORED_PCT must be at least BATTERY_LOW_PCT")
        return self
