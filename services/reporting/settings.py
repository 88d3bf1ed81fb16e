"""Settings of the reporting service."""

from __future__ import annotations

from shared.settings import IntakeSettings, SignInSettings


class ReportingSettings(IntakeSettings, SignInSettings):
    """Activities are taken like other intake; the dashboard has a sign-in."""
