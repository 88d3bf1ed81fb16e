"""Settings of the alarms service: deadlines, folding, the press rate limit and journal."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

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
