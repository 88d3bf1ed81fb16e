"""Runtime settings from the environment, from secret files (`/run/secrets/<setting>`, as
Compose and Kubernetes mount them) and, in the embedded default, `.local/secrets.env`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

ROOT = Path(__file__).resolve().parent.parent
SECRETS_DIR = "/run/secrets"  # SECRETS_DIR in the environment names another


def secrets_dir() -> Path | None:
    """Where secret files are, if anywhere: one file per setting, named as the setting."""
    directory = Path(os.environ.get("SECRETS_DIR", SECRETS_DIR))
    return directory if directory.is_dir() else None


class Settings(BaseSettings):
    """What every service reads; each service's own settings class adds what only it reads
    (services/<name>/settings.py). All come from the environment or secret files."""

    model_config = SettingsConfigDict(
        env_file=(ROOT / ".local" / "secrets.env",),
        extra="ignore",
        frozen=True,
        env_ignore_empty=True,  # `NAME=` (Compose's `${NAME:-}`) means unset, not ""
    )

    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Kafka bootstrap servers")
    # The embedded default turns the driver's retryable writes off: SecantusDB scans its whole
    # retryable-write record (up to 10 000 entries, kept 30 min) on every such write, which made
    # every write slower the longer it ran. Nothing here depends on them:
    # every write is idempotent and transient failures are retried by the services themselves.
    # Against real MongoDB, leave them on (the driver's default) in MONGODB_URL.
    mongodb_url: str = Field(
        "mongodb://127.0.0.1:27027/?directConnection=true&retryWrites=false",
        description="MongoDB connection URL",
    )
    mongodb_db_prefix: str = Field(
        "safecampus_", description="Each service uses the database <prefix><service>"
    )
    kafka_replication_factor: int = Field(1, description="Replication of topics created here")
    topic_prefix: str = Field("", description="Prefix for every topic and consumer group")
    county_file: Path = Field(
        ROOT / "deploy" / "county.yaml", description="Provisioning file (DESIGN §5.2)"
    )
    host: str = "127.0.0.1"
    alarms_port: int = 8001
    patrols_port: int = 8002
    notifications_port: int = 8003
    reporting_port: int = 8004
    jwt_secret: SecretStr | None = Field(None, description="HS256 key for user tokens")
    max_body_bytes: int = Field(
        256 * 1024,
        gt=0,
        description="Request bodies over this are refused (413) before they are read; a full "
        "batch of 500 fixes is about 70 KiB",
    )
    consumers_enabled: bool = Field(
        True, description="false: serve HTTP only (scale ingress apart from Kafka consumers)"
    )
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment first, then the secret files, then `.local/secrets.env`; the
        secrets directory is looked for when settings are read, never at import."""
        directory = secrets_dir()
        files = () if directory is None else (SecretsSettingsSource(settings_cls, directory),)
        return (init_settings, env_settings, *files, dotenv_settings)

    def require_jwt_secret(self) -> str:
        """The JWT key, or a clear start-up error when it is missing."""
        if self.jwt_secret is None or len(self.jwt_secret.get_secret_value()) < 32:
            raise RuntimeError("JWT_SECRET must be set (at least 32 characters)")
        return self.jwt_secret.get_secret_value()

    @classmethod
    def of(cls, settings: Settings | None) -> Self:
        """These settings as `cls`: as given when they are that already, else read again with
        the given values kept (the environment fills in the rest)."""
        if isinstance(settings, cls):
            return settings
        return cls() if settings is None else cls(**settings.model_dump())


class DeviceSettings(Settings):
    """For services that verify what school devices sign and speak for the bureau to other
    systems (alarms, notifications)."""

    device_key_seed: SecretStr | None = Field(
        None, description="Derives device secrets that the provisioning file leaves out"
    )
    signature_window_s: int = Field(300, description="Allowed device clock skew (contract)")
    exchange_sender: str = Field(
        "safecampus@police.invalid",
        min_length=3,
        max_length=200,
        pattern=r"^[^\s,<&]+$",
        description="Who the bureau is to other systems: CAP `sender`, the EIDO agency id",
    )
    exchange_area_radius_m: float = Field(
        200.0, gt=0, le=50_000, description="The area around a school that CAP messages name"
    )


class SignInSettings(Settings):
    """For services with pages people sign in to (notifications, reporting)."""

    users_file: Path = Field(
        ROOT / ".local" / "users.yaml", description="Who may sign in (safecampus users add)"
    )


class IntakeSettings(Settings):
    """For services that take events from terminals and publish them (patrols, reporting)."""

    publish_timeout_s: float = Field(
        2.0,
        description="Broker acknowledgement wait at ingress: then a position batch or an "
        "activity is refused with 503",
    )
    max_future_skew_s: float = Field(30.0, description="Fixes further in the future are refused")
