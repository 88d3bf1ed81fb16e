"""Builds the reporting service: one factory, no connections at import or build time."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting import api, handlers
from services.reporting.repository import MongoReportingRepository
from services.reporting.service import Deps
from services.reporting.settings import ReportingSettings
from shared.labels import labels_router
from shared.provisioning import load_county
from shared.settings import Settings
from shared.signin import sign_in_router
from shared.users import UserDirectory
from shared.web import ServiceKit

NAME = "reporting"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = ReportingSettings.of(settings)
    kit = ServiceKit.create(NAME, settings)
    county = load_county(settings.county_file)
    repo = MongoReportingRepository(
        kit.database,
        zone=county.zone,
        townships={school.school_id: school.township for school in county.schools},
    )
    deps = Deps(
        repo=repo,
        county=county,
        publisher=kit.publisher,
        topics=kit.topics,
        max_future_skew_s=settings.max_future_skew_s,
        publish_timeout_s=settings.publish_timeout_s,
    )
    kit.subscribe(handlers.subscriptions(deps, kit.topics))
    return kit.app(
        routers=[
            api.router,
            api.activities_router,
            api.pages_router,
            labels_router,
            sign_in_router(UserDirectory.load(settings.users_file), kit.registry),
        ],
        deps=deps,
        startup=[repo.ensure_indexes],
        description="Read models from events; reports for supervisors (JSON and CSV), the "
        "activities they record (inspections, drills, sessions, letters), the dashboard and "
        "the printable report.",
    )
