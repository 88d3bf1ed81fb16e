"""Builds the patrols service: one factory, no connections at import or build time."""

from __future__ import annotations

from fastapi import FastAPI

from services.patrols import api, handlers
from services.patrols.metrics import PatrolMetrics
from services.patrols.repository import MongoPatrolRepository
from services.patrols.service import Deps
from shared.bus import ConsumerMetrics, KafkaPublisher, MessageProcessor, make_broker
from shared.mongo import make_client, service_database
from shared.observability import new_registry
from shared.provisioning import load_county
from shared.settings import Settings
from shared.topics import Topics
from shared.web import ServiceParts, build_app

NAME = "patrols"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = new_registry()
    broker = make_broker(settings, service=NAME, registry=registry)
    mongo = make_client(settings, app_name=NAME)
    county = load_county(settings.county_file)
    publisher = KafkaPublisher(broker)
    repo = MongoPatrolRepository(service_database(mongo, settings, NAME))
    deps = Deps(
        repo=repo,
        publisher=publisher,
        topics=Topics(settings.topic_prefix),
        county=county,
        metrics=PatrolMetrics(registry),
        max_future_skew_s=settings.max_future_skew_s,
    )
    if settings.consumers_enabled:
        processor = MessageProcessor(
            service=NAME, publisher=publisher, metrics=ConsumerMetrics(registry)
        )
        broker.include_router(handlers.build_router(deps, processor))

    async def provision() -> None:
        await repo.ensure_indexes()
        await repo.provision_units(county.units)

    return build_app(
        ServiceParts(
            name=NAME,
            settings=settings,
            registry=registry,
            broker=broker,
            mongo=mongo,
            routers=[api.router],
            startup=[provision],
            state={"deps": deps},
            description="Unit terminals: positions (batches), unit state.",
        )
    )
