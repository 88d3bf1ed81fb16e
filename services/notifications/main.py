"""Builds the notifications service: one factory, no connections at import or build time."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifications import api, handlers
from services.notifications.hub import Hub
from services.notifications.metrics import NotificationMetrics
from services.notifications.repository import MongoNotificationRepository
from services.notifications.service import Deps
from shared.bus import ConsumerMetrics, KafkaPublisher, MessageProcessor, make_broker
from shared.mongo import make_client, service_database
from shared.observability import new_registry
from shared.settings import Settings
from shared.topics import Topics
from shared.web import ServiceParts, build_app

NAME = "notifications"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = new_registry()
    broker = make_broker(settings, service=NAME, registry=registry)
    mongo = make_client(settings, app_name=NAME)
    repo = MongoNotificationRepository(service_database(mongo, settings, NAME))
    deps = Deps(
        repo=repo,
        hub=Hub(),
        metrics=NotificationMetrics(registry),
        radius_m=settings.nearby_radius_m,
        top_k=settings.nearby_top_k,
        position_max_age_s=settings.position_max_age_s,
    )
    if settings.consumers_enabled:
        processor = MessageProcessor(
            service=NAME, publisher=KafkaPublisher(broker), metrics=ConsumerMetrics(registry)
        )
        broker.include_router(handlers.build_router(deps, Topics(settings.topic_prefix), processor))
    return build_app(
        ServiceParts(
            name=NAME,
            settings=settings,
            registry=registry,
            broker=broker,
            mongo=mongo,
            routers=[api.router],
            startup=[repo.ensure_indexes],
            state={"deps": deps},
            description="Nearest units for each alarm; the dispatcher feed and live stream.",
        )
    )
