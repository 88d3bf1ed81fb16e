"""What every alarms service function is given; main.create_app builds it, tests their own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from services.alarms.journal import PressJournal
from services.alarms.lifecycle import Timers
from services.alarms.live_tests_repository import LiveTestRepository
from services.alarms.metrics import AlarmMetrics
from services.alarms.models import TrustedDevice
from services.alarms.repository import AlarmRepository
from services.alarms.supervision_service import Supervision
from shared.bus.background import Afterwards
from shared.bus.publishers import Publisher
from shared.exchange.cap import Sender
from shared.provisioning import County
from shared.ratelimit import TokenBuckets
from shared.topics import Topics

DEFAULT_TIMERS = Timers()


@dataclass(frozen=True)
class Deps:
    repo: AlarmRepository
    publisher: Publisher
    topics: Topics
    devices: Mapping[str, TrustedDevice]
    county: County
    metrics: AlarmMetrics
    signature_window_s: int
    timers: Timers = DEFAULT_TIMERS
    fold_window: timedelta = timedelta(minutes=10)
    journal: PressJournal | None = None
    publish_timeout_s: float = 2.0
    press_limiter: TokenBuckets = field(default_factory=TokenBuckets)
    # the audit record and the outbox pull after a publish: not on the way to the next press
    afterwards: Afterwards = field(default_factory=lambda: Afterwards("outbox", inline=True))
    # heartbeats and troubles; None where a test leaves supervision out
    supervision: Supervision | None = None
    live_tests: LiveTestRepository | None = None
    # who the bureau is in CAP and EIDO exports
    sender: Sender | None = None
