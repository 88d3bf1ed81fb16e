"""What every patrols service function is given: repository, publisher, county, settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta

from services.patrols.latest import PendingPositions
from services.patrols.metrics import PatrolMetrics
from services.patrols.repository import PatrolRepository
from services.patrols.tracker import VisitTracker
from shared.bus.publishers import Publisher
from shared.provisioning import County
from shared.topics import Topics


@dataclass(frozen=True)
class CommunityRules:
    """How community checks are taken and kept: the key identity numbers are hashed with, how
    far from a school a premises may be, how long personal fields are kept."""

    pii_key: bytes = field(repr=False)
    radius_m: float = 500.0
    personal_retention: timedelta = timedelta(days=180)


@dataclass(frozen=True)
class VisitorRules:
    """When schools close (county time: a visitor still inside then is flagged) and how long
    visitors' personal fields are kept."""

    closes_at: time = time(18, 0)
    personal_retention: timedelta = timedelta(days=90)


@dataclass(frozen=True)
class VisibilityRules:
    """Police visibility: how near a school a unit counts as seen, and how long after a window
    its positions are waited for."""

    radius_m: float = 300.0
    settle: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class Deps:
    repo: PatrolRepository
    publisher: Publisher
    topics: Topics
    county: County
    metrics: PatrolMetrics
    max_future_skew_s: float
    post_grace: timedelta = timedelta(minutes=5)
    post_fresh: timedelta = timedelta(minutes=2)
    history_retention: timedelta = timedelta(days=30)
    publish_timeout_s: float = 2.0
    visits: VisitTracker = field(default_factory=lambda: VisitTracker([]))
    latest: PendingPositions = field(default_factory=PendingPositions)
    visitors: VisitorRules = field(default_factory=VisitorRules)
    visibility: VisibilityRules = field(default_factory=VisibilityRules)
    community: CommunityRules = field(
        default_factory=lambda: CommunityRules(pii_key=b"unit-tests-only")
    )
