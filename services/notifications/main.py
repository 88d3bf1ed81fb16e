"""Builds the notifications service: one factory, no connections at import or build time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from services.notifications import api, handlers, service
from services.notifications.deps import Deps, Outbound, Ranking
from services.notifications.metrics import NotificationMetrics
from services.notifications.outbound import RetryPolicy, parse_endpoints
from services.notifications.repository import MongoNotificationRepository
from services.notifications.settings import NotificationsSettings
from services.notifications.streams import FEED, ORDERS, Tail, follow
from shared.bus.background import Afterwards, run_every
from shared.events import utcnow
from shared.provisioning import device_secrets, load_county
from shared.ratelimit import HeldSlots
from shared.settings import Settings
from shared.signin import sign_in_router
from shared.topics import partition_count
from shared.users import UserDirectory
from shared.web import BackgroundJob, ServiceKit

NAME = "notifications"
OUTBOUND_TIMEOUT_S = 5.0
BOARD_REFRESH_S = 2.0
LOG_RETRY_S = 1.0  # a log reader that failed reads on after this long
BOARD_OVERLAP = timedelta(seconds=1)  # clock skew between instances writing the stored copy


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = NotificationsSettings.of(settings)
    kit = ServiceKit.create(NAME, settings)
    webhooks = parse_endpoints(settings.webhook_urls)
    if webhooks and settings.webhook_secret is None:
        raise RuntimeError(
            "WEBHOOK_URLS is set: WEBHOOK_SECRET must be set too (bodies are signed)"
        )
    county = load_county(settings.county_file)
    repo = MongoNotificationRepository(kit.database)
    deps = Deps(
        repo=repo,
        log=kit.publisher,
        publisher=kit.publisher,
        topics=kit.topics,
        metrics=NotificationMetrics(kit.registry),
        ranking=Ranking(
            radius_m=settings.nearby_radius_m,
            top_k=settings.nearby_top_k,
            position_max_age_s=settings.position_max_age_s,
            widenings=settings.radius_widenings,
            guard_post_radius_m=settings.guard_post_radius_m,
        ),
        order_ack_timeout=timedelta(seconds=settings.order_ack_timeout_s),
        outbound=Outbound(
            webhooks=webhooks,
            webhook_secret=_secret(settings.webhook_secret),
            sms_gateway_url=settings.sms_gateway_url,
            sms_gateway_token=_secret(settings.sms_gateway_token),
            retry=RetryPolicy(
                max_attempts=settings.outbound_max_attempts,
                base=timedelta(seconds=settings.outbound_retry_base_s),
            ),
        ),
        county=county,
        device_keys=device_secrets(county, _secret(settings.device_key_seed)),
        signature_window_s=settings.signature_window_s,
        afterwards=Afterwards("delivery-publish", kit.failures),
    )
    feed_tail = Tail(FEED, keep=settings.log_keep)
    orders_tail = Tail(ORDERS, keep=settings.log_keep)
    tails: dict[str, Tail[Any]] = {
        kit.topics.notifications_feed: feed_tail,
        kit.topics.notifications_orders: orders_tail,
    }
    kit.subscribe(handlers.subscriptions(deps, kit.topics))

    async def order_deadlines() -> None:
        """Passes over units that did not acknowledge their order in time."""
        await run_every(
            "order-deadlines",
            settings.tick_s,
            lambda: service.pass_over_overdue(deps=deps, now=utcnow()),
            kit.failures,
        )

    async def delivery_outbox() -> None:
        """Publishes delivery events left in orders' outboxes (a failed or unfinished publish),
        and appends to their logs entries and orders whose append was not seen to finish."""

        async def round_() -> None:
            await service.relay_deliveries(deps=deps, now=utcnow())
            await service.relay_unlogged(deps=deps, now=utcnow())

        await run_every("delivery-outbox", settings.tick_s, round_, kit.failures)

    def follower(topic: str) -> BackgroundJob:
        async def read_log() -> None:
            """Reads a log topic in full into this instance's tail, for as long as the service
            runs; after a failure (logged and counted) it reads on from where it stopped."""

            async def read() -> None:
                partitions = await partition_count(settings.kafka_bootstrap, topic)
                await follow(
                    tails[topic],
                    topic=topic,
                    bootstrap=settings.kafka_bootstrap,
                    partitions=partitions,
                )

            await run_every(f"read-{topic}", LOG_RETRY_S, read, kit.failures)

        read_log.__name__ = f"read-{topic}"
        return read_log

    def logs_read() -> str | None:
        behind = [topic for topic, tail in tails.items() if not tail.caught_up.is_set()]
        return f"still reading {', '.join(behind)}" if behind else None

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
            sender = service.OutboundSender(deps=deps, client=client, failures=kit.failures)
            try:
                await run_every(
                    "outbound", settings.tick_s, lambda: sender.round(utcnow()), kit.failures
                )
            finally:
                await sender.close()

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
        shutdown=[deps.afterwards.stop],
        background=[order_deadlines, delivery_outbox, outbound_sender, board_refresh],
        serving=[follower(topic) for topic in tails],
        checks={"logs": logs_read},
        state={
            "feed_tail": feed_tail,
            "orders_tail": orders_tail,
            "stream_slots": HeldSlots(limit=settings.max_streams_per_user),
        },
        description="Who is told: the dispatcher feed and live stream; unit orders (the staffed "
        "guard post first, then the nearest), their live stream, acknowledgement and pass-over.",
    )
