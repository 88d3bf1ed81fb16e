"""Builds the reporting service: one factory, no connections at import or build time."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting import api, handlers
from services.reporting.repository import MongoReportingRepository
from services.reporting.service import Deps
from shared.settings import Settings
from shared.web import ServiceKit

NAME = "reporting"


def create_app(settings: Settings | None = None) -> FastAPI:
    kit = ServiceKit.create(NAME, settings or Settings())
    repo = MongoReportingRepository(kit.database)
    deps = Deps(repo=repo)
    kit.subscribe(lambda processor: handlers.build_router(deps, kit.topics, processor))
    return kit.app(
        routers=[api.router],
        deps=deps,
        startup=[repo.ensure_indexes],
        description="Read models from events; reports for supervisors.",
    )
