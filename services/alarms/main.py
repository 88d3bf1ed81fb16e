"""Builds the alarms service: one factory, no connections at import or build time."""

from __future__ import annotations

from fastapi import FastAPI

from services.alarms import api, handlers
from services.alarms.metrics import AlarmMetrics
from services.alarms.repository import MongoAlarmRepository
from services.alarms.service import Deps, trusted_devices
from shared.provisioning import device_secrets, load_county
from shared.settings import Settings
from shared.web import ServiceKit

NAME = "alarms"


def create_app(settings: Settings | None = None) -> FastAPI:
    kit = ServiceKit.create(NAME, settings or Settings())
    county = load_county(kit.settings.county_file)
    seed = kit.settings.device_key_seed.get_secret_value() if kit.settings.device_key_seed else None
    repo = MongoAlarmRepository(kit.database)
    deps = Deps(
        repo=repo,
        publisher=kit.publisher,
        topics=kit.topics,
        devices=trusted_devices(county, device_secrets(county, seed)),
        county=county,
        metrics=AlarmMetrics(kit.registry),
        signature_window_s=kit.settings.signature_window_s,
    )
    kit.subscribe(lambda processor: handlers.build_router(deps, processor))
    return kit.app(
        routers=[api.router],
        deps=deps,
        startup=[repo.ensure_indexes],
        description="Button ingress (signed), device trust, alarm lifecycle.",
    )
