"""Builds the notifications service: one factory, no connections at import or build time."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from services.notifications import api, basemap, handlers, service
from services.notifications.deps import Deps, Outbound, Ranking
from services.notifications.metrics import NotificationMetrics
from services.notifications.outbound import RetryPolicy, parse_endpoints
from services.notifications.repository import MongoNotificationRepository
from services.notifications.settings import NotificationsSettings
from services.notifications.streams import FEED, ORDERS, LogWriter, Tail, follow
from shared.bus.background import Afterwards, Round, run_every
from shared.bus.publishers import LogAppender
from shared.events import utcnow
from shared.exchange.cap import Sender
from shared.labels import labels_router
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
    appender = LogAppender(settings, service=NAME)
    deps = build_deps(settings, kit, appender)
    kit.subscribe(handlers.subscriptions(deps, kit.topics))
    logs = Logs(settings, kit)
    jobs = Jobs(deps, settings.tick_s, kit)
    return kit.app(
        routers=[
            api.router,
            api.units_router,
            api.devices_router,
            api.console_router,
            labels_router,
            sign_in_router(UserDirectory.load(settings.users_file), kit.registry),
        ],
        deps=deps,
        startup=[
            deps.repo.ensure_indexes,
            jobs.load_board,
            jobs.load_plans,
            partial(
                appender.warm,
                [kit.topics.notifications_feed, kit.topics.notifications_orders],
            ),
        ],
        shutdown=[deps.afterwards.stop, appender.close],
        background=[*(r.job(kit.failures) for r in jobs.rounds()), jobs.outbound_sender],
        serving=logs.followers(),
        checks={"logs": logs.behind},
        state={
            "feed_tail": logs.feed,
            "orders_tail": logs.orders,
            "stream_slots": HeldSlots(limit=settings.max_streams_per_user),
        },
        description="Who is told: the dispatcher feed and live stream; unit orders (the staffed "
        "guard post first, then the nearest), their live stream, acknowledgement and pass-over.",
    )


def build_deps(settings: NotificationsSettings, kit: ServiceKit, log: LogWriter) -> Deps:
    webhooks = parse_endpoints(settings.webhook_urls, settings.webhook_formats)
    if webhooks and settings.webhook_secret is None:
        raise RuntimeError(
            "WEBHOOK_URLS is set: WEBHOOK_SECRET must be set too (bodies are signed)"
        )
    county = load_county(settings.county_file)
    return Deps(
        repo=MongoNotificationRepository(kit.database),
        log=log,
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
        base_map=basemap.base_map(county, settings.map_tile_url, settings.map_tile_attribution),
        outbound=Outbound(
            webhooks=webhooks,
            webhook_secret=_secret(settings.webhook_secret),
            sender=Sender(
                sender=settings.exchange_sender,
                name=county.name,
                zone=county.zone,
                area_radius_m=settings.exchange_area_radius_m,
            ),
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


class Logs:
    """The feed and the orders logs as this instance reads them: in full, into its tails."""

    def __init__(self, settings: NotificationsSettings, kit: ServiceKit) -> None:
        self._bootstrap = settings.kafka_bootstrap
        self._failures = kit.failures
        self.feed = Tail(FEED, keep=settings.log_keep)
        self.orders = Tail(ORDERS, keep=settings.log_keep)
        self.tails: dict[str, Tail[Any]] = {
            kit.topics.notifications_feed: self.feed,
            kit.topics.notifications_orders: self.orders,
        }

    def followers(self) -> list[BackgroundJob]:
        """Per log, a reader for as long as the service runs; after a failure (logged and
        counted) it reads on from where it stopped."""
        return [
            Round(f"read-{topic}", LOG_RETRY_S, partial(self._read, topic)).job(self._failures)
            for topic in self.tails
        ]

    def behind(self) -> str | None:
        """For /readyz: the logs not read up to their end yet."""
        behind = [topic for topic, tail in self.tails.items() if not tail.caught_up.is_set()]
        return f"still reading {', '.join(behind)}" if behind else None

    async def _read(self, topic: str) -> None:
        """The topic in full into its tail."""
        partitions = await partition_count(self._bootstrap, topic)
        await follow(
            self.tails[topic], topic=topic, bootstrap=self._bootstrap, partitions=partitions
        )


class Jobs:
    """The background rounds of a notifications instance."""

    def __init__(self, deps: Deps, tick_s: float, kit: ServiceKit) -> None:
        self._deps = deps
        self._tick_s = tick_s
        self._failures = kit.failures
        self._board_since = utcnow()
        self._plans_since = utcnow()

    def rounds(self) -> list[Round]:
        return [
            # passes over units that did not acknowledge their order in time
            Round("order-deadlines", self._tick_s, self._pass_over),
            # delivery events left in orders' outboxes (a failed or unfinished publish), and
            # entries and orders whose append to their log was not seen to finish
            Round("delivery-outbox", self._tick_s, self._relay),
            # the in-memory board in step with the stored copy (other instances' writes)
            Round("board-refresh", BOARD_REFRESH_S, self._refresh_board),
            # the schools' plans likewise (another instance may have consumed a new one)
            Round("plans-refresh", BOARD_REFRESH_S, self._refresh_plans),
        ]

    async def _pass_over(self) -> None:
        await service.pass_over_overdue(deps=self._deps, now=utcnow())

    async def _relay(self) -> None:
        await service.relay_deliveries(deps=self._deps, now=utcnow())
        await service.relay_unlogged(deps=self._deps, now=utcnow())

    async def load_board(self) -> None:
        await service.refresh_board(deps=self._deps, since=None)

    async def _refresh_board(self) -> None:
        started = utcnow()
        await service.refresh_board(deps=self._deps, since=self._board_since - BOARD_OVERLAP)
        self._board_since = started

    async def load_plans(self) -> None:
        await service.refresh_plans(deps=self._deps, since=None)

    async def _refresh_plans(self) -> None:
        started = utcnow()
        await service.refresh_plans(deps=self._deps, since=self._plans_since - BOARD_OVERLAP)
        self._plans_since = started

    async def outbound_sender(self) -> None:
        """POSTs webhook and SMS-gateway messages, retrying with backoff."""
        async with httpx.AsyncClient(timeout=OUTBOUND_TIMEOUT_S) as client:
            sender = service.OutboundSender(deps=self._deps, client=client, failures=self._failures)
            try:
                await run_every(
                    "outbound", self._tick_s, lambda: sender.round(utcnow()), self._failures
                )
            finally:
                await sender.close()
