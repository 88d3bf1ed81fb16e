"""Builds the notifications service: one factory, no connections at import or build time."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from services.notifications import api, handlers, service
from services.notifications.hub import Hub
from services.notifications.metrics import NotificationMetrics
from services.notifications.outbound import RetryPolicy, parse_endpoints
from services.notifications.repository import MongoNotificationRepository
from services.notifications.sequences import SequencePool
from services.notifications.service import Deps
from shared.bus import Afterwards, run_every
from shared.events import utcnow
from shared.provisioning import device_secrets, load_county
from shared.settings import Settings
from shared.signin import sign_in_router
from shared.users import UserDirectory
from shared.web import ServiceKit

NAME = "notifications"
OUTBOUND_TIMEOUT_S = 5.0
BOARD_REFRESH_S = 2.0
BOARD_OVERLAP = timedelta(seconds=1)  # clock skew between instances writing the stored copy


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def create_app(settings: Settings | None = None) -> FastAPI:
    kit = ServiceKit.create(NAME, settings or Settings())
    settings = kit.settings
    webhooks = parse_endpoints(settings.webhook_urls)
    if webhooks and settings.webhook_secret is None:
        raise RuntimeError(
            "WEBHOOK_URLS is set: WEBHOOK_SECRET must be set too (bodies are signed)"
        )
    county = load_county(settings.county_file)
    repo = MongoNotificationRepository(kit.database)
    deps = Deps(
        repo=repo,
        hub=Hub(),
        metrics=NotificationMetrics(kit.registry),
        radius_m=kit.settings.nearby_radius_m,
        top_k=kit.settings.nearby_top_k,
        position_max_age_s=kit.settings.position_max_age_s,
        publisher=kit.publisher,
        topics=kit.topics,
        orders_hub=Hub(),
        radius_widenings=kit.settings.radius_widenings,
        guard_post_radius_m=kit.settings.guard_post_radius_m,
        order_ack_timeout=timedelta(seconds=kit.settings.order_ack_timeout_s),
        county=county,
        webhooks=webhooks,
        webhook_secret=_secret(settings.webhook_secret),
        sms_gateway_url=settings.sms_gateway_url,
        sms_gateway_token=_secret(settings.sms_gateway_token),
        retry=RetryPolicy(
            max_attempts=settings.outbound_max_attempts,
            base=timedelta(seconds=settings.outbound_retry_base_s),
        ),
        device_keys=device_secrets(county, _secret(settings.device_key_seed)),
        signature_window_s=settings.signature_window_s,
        alarms_url=settings.alarms_url or f"http://{settings.host}:{settings.alarms_port}",
        afterwards=Afterwards("delivery-publish", kit.failures),
        sequences=SequencePool(Afterwards("sequence-draw", kit.failures)),
    )
    kit.subscribe(lambda processor: handlers.build_router(deps, kit.topics, processor))

    async def order_deadlines() -> None:
        """Passes over units that did not acknowledge their order in time."""
        await run_every(
            "order-deadlines",
            kit.settings.tick_s,
            lambda: service.pass_over_overdue(deps=deps, now=utcnow()),
            kit.failures,
        )

    async def delivery_outbox() -> None:
        """Publishes delivery events left in orders' outboxes (a failed or unfinished publish)."""
        await run_every(
            "delivery-outbox",
            kit.settings.tick_s,
            lambda: service.relay_deliveries(deps=deps, now=utcnow()),
            kit.failures,
        )

    async def board_refresh() -> None:
        """Keeps the in-memory board in step with the stored copy (other instances' writes)."""
        last = [utcnow()]

        async def round_() -> None:
            started = utcnow()
            await service.refresh_board(deps=deps, since=last[0] - BOARD_OVERLAP)
            last[0] = started

        await run_every("board-refresh", BOARD_REFRESH_S, round_, kit.failures)

    async def load_board() -> None:
        await service.refresh_board(deps=deps, since=None)

    async def outbound_sender() -> None:
        """POSTs webhook and SMS-gateway messages, retrying with backoff."""
        async with httpx.AsyncClient(timeout=OUTBOUND_TIMEOUT_S) as client:
            await run_every(
                "outbound",
                kit.settings.tick_s,
                lambda: service.send_outbound(deps=deps, client=client, now=utcnow()),
                kit.failures,
            )

    return kit.app(
        routers=[
            api.router,
            api.units_router,
            api.devices_router,
            api.console_router,
            sign_in_router(UserDirectory.load(settings.users_file), kit.registry),
        ],
        deps=deps,
        startup=[repo.ensure_indexes, load_board],
        background=[order_deadlines, delivery_outbox, outbound_sender, board_refresh],
        description="Who is told: the dispatcher feed and live stream; unit orders (the staffed "
        "guard post first, then the nearest), their live stream, acknowledgement and pass-over.",
    )
