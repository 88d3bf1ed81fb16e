"""Runtime settings from the environment (and `.local/secrets.env` in the embedded default)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of every service; each service reads only what it needs."""

    model_config = SettingsConfigDict(
        env_file=(ROOT / ".local" / "secrets.env",), extra="ignore", frozen=True
    )

    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Kafka bootstrap servers")
    # The embedded default turns the driver's retryable writes off: SecantusDB scans its whole
    # retryable-write record (up to 10 000 entries, kept 30 min) on every such write, which made
    # every write slower the longer it ran (docs/benchmarks.md). Nothing here depends on them:
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
    device_key_seed: SecretStr | None = Field(
        None, description="Derives device secrets that the provisioning file leaves out"
    )

    signature_window_s: int = Field(300, description="Allowed device clock skew (contract)")
    max_body_bytes: int = Field(
        256 * 1024,
        gt=0,
        description="Request bodies over this are refused (413) before they are read; a full "
        "batch of 500 fixes is about 70 KiB",
    )
    nearby_radius_m: float = 3000.0
    nearby_top_k: int = 3
    radius_widenings: int = Field(
        2, ge=0, description="Nobody in range: double the radius up to this many times"
    )
    guard_post_radius_m: float = Field(
        200.0, gt=0, description="A unit on post this close to the school is its guard post"
    )
    order_ack_timeout_s: float = Field(
        20.0, gt=0, description="A unit that has not acknowledged its order by then is passed over"
    )
    max_streams_per_user: int = Field(
        10,
        ge=1,
        description="Live streams one token's user may hold open at once on one notifications "
        "instance; one more is a 429",
    )
    log_keep: int = Field(
        10_000,
        ge=1,
        description="Feed entries and orders (per partition) each notifications instance keeps in "
        "memory; a stream resuming from further back gets a `reset`",
    )
    position_max_age_s: float = Field(300.0, description="Older fixes do not count as near")
    max_future_skew_s: float = Field(30.0, description="Fixes further in the future are refused")

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
        description="Broker acknowledgement wait at ingress: then a press is journaled, "
        "a position batch refused with 503",
    )
    post_grace_s: float = Field(
        300.0, description="Guard post empty this long into its window → coverage gap"
    )
    post_check_s: float = Field(15.0, description="How often guard posts are checked")
    post_fresh_s: float = Field(
        120.0, description="A unit's fix older than this does not count as being on post"
    )
    position_history_days: float = Field(
        30.0, gt=0, description="Position history older than this is deleted (hourly)"
    )
    webhook_urls: str = Field(
        "", description="Webhook receivers told of every raised alarm: `name=url,name=url`"
    )
    webhook_secret: SecretStr | None = Field(
        None, description="Signs webhook bodies (required when WEBHOOK_URLS is set)"
    )
    sms_gateway_url: str | None = Field(None, description="SMS gateway endpoint (HTTP POST)")
    sms_gateway_token: SecretStr | None = Field(None, description="Bearer token of the gateway")
    outbound_max_attempts: int = Field(5, ge=1, description="Webhook/SMS tries, then failed")
    outbound_retry_base_s: float = Field(
        1.0, gt=0, description="First retry delay; doubled each try, with jitter"
    )
    users_file: Path = Field(
        ROOT / ".local" / "users.yaml", description="Who may sign in (python -m shared.users)"
    )
    consumers_enabled: bool = Field(
        True, description="false: serve HTTP only (scale ingress apart from Kafka consumers)"
    )
    log_level: str = "INFO"

    def require_jwt_secret(self) -> str:
        """The JWT key, or a clear start-up error when it is missing."""
        if self.jwt_secret is None or len(self.jwt_secret.get_secret_value()) < 32:
            raise RuntimeError("JWT_SECRET must be set (at least 32 characters)")
        return self.jwt_secret.get_secret_value()
