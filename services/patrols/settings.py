"""Settings of the patrols service: guard posts, position history, hazards, community checks."""

from __future__ import annotations

from datetime import time

from pydantic import Field, SecretStr

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
    pii_key: SecretStr | None = Field(
        None, description="Keys the hash of identity numbers in community checks (secret)"
    )
    community_radius_m: float = Field(
        500.0, gt=0, le=5000, description="Community checks: premises within this of a school"
    )
    community_personal_days: float = Field(
        180.0,
        gt=0,
        description="Community checks: people's personal fields are erased after this",
    )
    personal_erase_check_s: float = Field(
        3600.0, gt=0, description="How often personal fields past their retention are erased"
    )

    school_closes_at: time = Field(
        time(18, 0), description="County time: a visitor still inside then is flagged"
    )
    visitor_personal_days: float = Field(
        90.0, gt=0, description="Gate visitors' names, phones and plates are erased after this"
    )
    visitor_check_s: float = Field(
        60.0, gt=0, description="How often visitors still inside are checked against closing"
    )

    visibility_radius_m: float = Field(
        300.0, gt=0, le=5000, description="Police visibility: a unit this near a school is seen"
    )
    visibility_settle_s: float = Field(
        300.0, ge=0, description="A window is worked out this long after it ends (late fixes)"
    )
    visibility_check_s: float = Field(
        60.0, gt=0, description="How often ended rush-hour windows are looked for"
    )

    def require_pii_key(self) -> bytes:
        """The key identity numbers are hashed with, or a clear start-up error."""
        if self.pii_key is None or len(self.pii_key.get_secret_value()) < 32:
            raise RuntimeError("PII_KEY must be set (at least 32 characters)")
        return self.pii_key.get_secret_value().encode()
