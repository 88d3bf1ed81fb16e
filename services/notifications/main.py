"""Builds the notifications service: one factory, no connections at import or build time."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifications import api, handlers
from services.notifications.hub import Hub
from services.notifications.metrics import NotificationMetrics
from services.notifications.repository import MongoNotificationRepository
from services.notifications.service import Deps
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
    )
    kit.subscribe(lambda processor: handlers.build_router(deps, kit.topics, processor))
    return kit.app(
        routers=[api.router],
        deps=deps,
        startup=[repo.ensure_indexes],
        description="Nearest units for each alarm; the dispatcher feed and live stream.",
    )
