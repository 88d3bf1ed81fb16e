"""Builds the patrols service: one factory, no connections at import or build time."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from services.patrols import (
    api,
    community_api,
    community_service,
    enforcement_service,
    guard_posts_service,
    handlers,
    hazards_api,
    hazards_service,
    plans_api,
    plans_service,
    service,
    visibility_service,
    visitors_api,
    visitors_service,
    visits_service,
)
from services.patrols.deps import CommunityRules, Deps, VisibilityRules, VisitorRules
from services.patrols.latest import LATEST_FLUSH_S
from services.patrols.metrics import PatrolMetrics
from services.patrols.repository import MongoPatrolRepository
from services.patrols.settings import PatrolsSettings
from services.patrols.tracker import VisitTracker
from shared.bus.background import Round
from shared.events import utcnow
from shared.provisioning import load_county
from shared.settings import Settings
from shared.web import ServiceKit

NAME = "patrols"
VISIT_SWEEP_S = 15.0
CAMPAIGN_RELAY_S = 600.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = PatrolsSettings.of(settings)
    kit = ServiceKit.create(NAME, settings)
    county = load_county(settings.county_file)
    repo = MongoPatrolRepository(kit.database)
    deps = Deps(
        repo=repo,
        publisher=kit.publisher,
        topics=kit.topics,
        county=county,
        metrics=PatrolMetrics(kit.registry),
        max_future_skew_s=settings.max_future_skew_s,
        post_grace=timedelta(seconds=settings.post_grace_s),
        post_fresh=timedelta(seconds=settings.post_fresh_s),
        history_retention=timedelta(days=settings.position_history_days),
        publish_timeout_s=settings.publish_timeout_s,
        visits=VisitTracker(county.patrol_points),
        visitors=VisitorRules(
            closes_at=settings.school_closes_at,
            personal_retention=timedelta(days=settings.visitor_personal_days),
        ),
        visibility=VisibilityRules(
            radius_m=settings.visibility_radius_m,
            settle=timedelta(seconds=settings.visibility_settle_s),
        ),
        community=CommunityRules(
            pii_key=settings.require_pii_key(),
            radius_m=settings.community_radius_m,
            personal_retention=timedelta(days=settings.community_personal_days),
        ),
    )
    kit.subscribe(handlers.subscriptions(deps))
    rounds = [
        # status events a crash left in a unit's outbox
        Round("status-relay", 1.0, lambda: service.relay_pending(deps=deps)),
        # each unit's newest fix (services.patrols.latest)
        Round("latest-positions", LATEST_FLUSH_S, lambda: service.flush_latest(deps=deps)),
        # guard posts in their rush-hour windows: gaps while open, outcomes at the end
        Round(
            "guard-posts",
            settings.post_check_s,
            lambda: guard_posts_service.watch_posts(deps=deps, now=utcnow()),
        ),
        # position history past its retention
        Round("history-retention", 3600.0, lambda: service.prune_history(deps=deps, now=utcnow())),
        # the visits of units that fell silent end; the tracks' newest times are stored
        Round(
            "visit-sweep",
            VISIT_SWEEP_S,
            lambda: visits_service.sweep_visits(deps=deps, now=utcnow()),
        ),
        # every campaign again now and then: one stored just before a crash is published too
        # (same event ids; the reports keep one per campaign)
        Round(
            "campaign-relay",
            CAMPAIGN_RELAY_S,
            lambda: enforcement_service.republish_campaigns(deps=deps),
        ),
        # school plans stored but not seen published (a crash in between)
        Round("plan-relay", 1.0, lambda: plans_service.relay(deps=deps, now=utcnow())),
        # hazards past their deadline become overdue; changes stored but not seen published
        Round(
            "hazard-deadlines",
            settings.hazard_check_s,
            lambda: hazards_service.watch_overdue(deps=deps, now=utcnow()),
        ),
        Round("hazard-relay", 1.0, lambda: hazards_service.relay(deps=deps, now=utcnow())),
        # community checks stored but not seen published; personal fields past retention
        Round("community-relay", 1.0, lambda: community_service.relay(deps=deps, now=utcnow())),
        # police visibility: each school's rush-hour windows once ended, from positions
        Round(
            "visibility",
            settings.visibility_check_s,
            lambda: visibility_service.watch(deps=deps, now=utcnow()),
        ),
        Round("visibility-relay", 1.0, lambda: visibility_service.relay(deps=deps, now=utcnow())),
        # gate visitors still inside at closing are flagged; changes a crash left unpublished;
        # visitors' personal fields past their retention
        Round(
            "visitors-after-hours",
            settings.visitor_check_s,
            lambda: visitors_service.watch_after_hours(deps=deps, now=utcnow()),
        ),
        Round("visitor-relay", 1.0, lambda: visitors_service.relay(deps=deps, now=utcnow())),
        Round(
            "visitor-erase",
            settings.personal_erase_check_s,
            lambda: visitors_service.erase_expired(deps=deps, now=utcnow()),
        ),
        Round(
            "community-erase",
            settings.personal_erase_check_s,
            lambda: community_service.erase_expired(deps=deps, now=utcnow()),
        ),
    ]

    async def provision() -> None:
        await repo.ensure_indexes()
        await repo.provision_units(county.units)
        await service.recover_latest(deps=deps)

    return kit.app(
        routers=[
            api.router,
            hazards_api.router,
            plans_api.router,
            community_api.router,
            visitors_api.router,
        ],
        deps=deps,
        startup=[provision],
        background=[r.job(kit.failures) for r in rounds],
        description="Unit terminals: positions (batches), status (rules in services/patrols/"
        "status.py, published on patrols.unit-status), unit state and history.",
    )
