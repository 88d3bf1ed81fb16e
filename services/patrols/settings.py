"""Settings of the patrols service: guard posts and position history."""

from __future__ import annotations

from pydantic import Field

from shared.settings import IntakeSettings


class PatrolsSettings(IntakeSettings):
    post_grace_s: float = Field(
        300.0, description="Guard post empty this long into its window → coverage gap"
    )
    post_check_s: float = Field(15.0, description="How often guard posts are checked")
    hazard_check_s: float = Field(
        10.0, gt=0, description="How often hazards are checked against their deadlines"
    )
    post_fresh_s: float = Field(
        120.0, description="A unit's fix older than this does not count as being on post"
    )
    position_history_days: float = Field(
        30.0, gt=0, description="Position history older than this is deleted (hourly)"
    )
