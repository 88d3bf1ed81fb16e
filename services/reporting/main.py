"""Builds the reporting service: one factory, no connections at import or build time."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting import api, handlers
from services.reporting.repository import MongoReportingRepository
from services.reporting.service import Deps
from shared.bus import ConsumerMetrics, KafkaPublisher, MessageProcessor, make_broker
from shared.mongo import make_client, service_database
from shared.observability import new_registry
from shared.settings import Settings
from shared.topics import Topics
from shared.web import ServiceParts, build_app

NAME = "reporting"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = new_registry()
    broker = make_broker(settings, service=NAME, registry=registry)
    mongo = make_client(settings, app_name=NAME)
    repo = MongoReportingRepository(service_database(mongo, settings, NAME))
    deps = Deps(repo=repo)
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
            description="Read models from events; reports for supervisors.",
        )
    )
