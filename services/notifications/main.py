"""Builds the notifications service: one factory, no connections at import or build time."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from services.notifications import api, handlers, service
from services.notifications.hub import Hub
from services.notifications.metrics import NotificationMetrics
from services.notifications.repository import MongoNotificationRepository
from services.notifications.service import Deps
from shared.bus import run_every
from shared.events import utcnow
from shared.settings import Settings
from shared.web import ServiceKit

NAME = "notifications"


def create_app(settings: Settings | None = None) -> FastAPI:
    kit = ServiceKit.create(NAME, settings or Settings())
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

    return kit.app(
        routers=[api.router, api.units_router],
        deps=deps,
        startup=[repo.ensure_indexes],
        background=[order_deadlines],
        description="Who is told: the dispatcher feed and live stream; unit orders (the staffed "
        "guard post first, then the nearest), their live stream, acknowledgement and pass-over.",
    )
