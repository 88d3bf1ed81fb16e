"""What the notifications logic is given: built once in main.py, replaced piece by piece in
tests (fakes for the repository, the log and the publisher)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from services.notifications.basemap import BaseMap
from services.notifications.board import UnitBoard
from services.notifications.metrics import NotificationMetrics
from services.notifications.outbound import Endpoint, RetryPolicy
from services.notifications.plans import PlanBook
from services.notifications.repository import NotificationRepository
from services.notifications.streams import LogWriter
from shared.bus.background import Afterwards
from shared.bus.publishers import Publisher
from shared.exchange.cap import Sender
from shared.provisioning import County
from shared.topics import Topics


@dataclass(frozen=True)
class Ranking:
    """How the nearest units are found (NEARBY_RADIUS_M, NEARBY_TOP_K, POSITION_MAX_AGE_S,
    RADIUS_WIDENINGS, GUARD_POST_RADIUS_M)."""

    radius_m: float = 3000.0
    top_k: int = 3
    position_max_age_s: float = 300.0
    widenings: int = 2
    guard_post_radius_m: float = 200.0


@dataclass(frozen=True)
class Outbound:
    """Where outside messages go and how they are retried (WEBHOOK_*, SMS_GATEWAY_*,
    OUTBOUND_*)."""

    webhooks: list[Endpoint] = field(default_factory=list)
    webhook_secret: str | None = None
    # who the bureau is in CAP and EIDO messages (receivers that take those formats)
    sender: Sender | None = None
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    # One POST from connecting to its status line, however slowly a receiver answers (the
    # client's own time-outs are per read, which a receiver dripping bytes never reaches).
    deadline_s: float = 10.0
    # POSTs under way at once per instance; each runs on its own, none waits for another.
    at_once: int = 20


@dataclass(frozen=True)
class Deps:
    repo: NotificationRepository
    log: LogWriter
    publisher: Publisher
    topics: Topics
    metrics: NotificationMetrics
    ranking: Ranking = field(default_factory=Ranking)
    order_ack_timeout: timedelta = timedelta(seconds=20)
    outbound: Outbound = field(default_factory=Outbound)
    board: UnitBoard = field(default_factory=UnitBoard)
    plans: PlanBook = field(default_factory=PlanBook)
    county: County | None = None
    base_map: BaseMap = field(default_factory=BaseMap)  # under the console map's live layers
    # device secrets, to check a button's signed request for its messages
    device_keys: dict[str, str] = field(default_factory=dict)
    signature_window_s: int = 300
    # delivery events leave the order's outbox after the handler (unit tests: at once)
    afterwards: Afterwards = field(default_factory=lambda: Afterwards("deliveries", inline=True))
