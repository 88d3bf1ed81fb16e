"""Builds the alarms service: one factory, no connections at import or build time."""

from __future__ import annotations

from fastapi import FastAPI

from services.alarms import api, handlers
from services.alarms.metrics import AlarmMetrics
from services.alarms.repository import MongoAlarmRepository
from services.alarms.service import Deps, trusted_devices
from shared.bus import ConsumerMetrics, KafkaPublisher, MessageProcessor, make_broker
from shared.mongo import make_client, service_database
from shared.observability import new_registry
from shared.provisioning import device_secrets, load_county
from shared.settings import Settings
from shared.topics import Topics
from shared.web import ServiceParts, build_app

NAME = "alarms"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = new_registry()
    broker = make_broker(settings, service=NAME, registry=registry)
    mongo = make_client(settings, app_name=NAME)
    county = load_county(settings.county_file)
    seed = settings.device_key_seed.get_secret_value() if settings.device_key_seed else None
    publisher = KafkaPublisher(broker)
    repo = MongoAlarmRepository(service_database(mongo, settings, NAME))
    deps = Deps(
        repo=repo,
        publisher=publisher,
        topics=Topics(settings.topic_prefix),
        devices=trusted_devices(county, device_secrets(county, seed)),
        county=county,
        metrics=AlarmMetrics(registry),
        signature_window_s=settings.signature_window_s,
    )
    if settings.consumers_enabled:
        processor = MessageProcessor(
            service=NAME, publisher=publisher, metrics=ConsumerMetrics(registry)
        )
        broker.include_router(handlers.build_router(deps, processor))
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
            description="Button ingress (signed), device trust, alarm lifecycle.",
        )
    )
