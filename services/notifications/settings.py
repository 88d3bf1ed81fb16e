"""Settings of the notifications service: ranking, orders, streams and outbound messages."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.settings import DeviceSettings, SignInSettings


class NotificationsSettings(DeviceSettings, SignInSettings):
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
    map_tile_url: str | None = Field(
        None,
        description="The console map's tile server, a Leaflet URL template: the bureau's own, "
        "Tianditu with its key, or OpenStreetMap; unset: the offline base from the county file",
    )
    map_tile_attribution: str = Field("", description="Shown under the map with its tiles")
    webhook_urls: str = Field(
        "", description="Webhook receivers told of every raised alarm: `name=url,name=url`"
    )
    webhook_formats: str = Field(
        "",
        description="The format each receiver takes: `name=cap` (OASIS CAP 1.2 XML), "
        "`name=eido` (NENA EIDO JSON); unnamed receivers take SafeCampus JSON",
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
    tick_s: float = Field(
        0.5, description="How often order deadlines, deliveries and outbound messages are checked"
    )
