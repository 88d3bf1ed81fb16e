"""Builds the alarms service: one factory, no connections at import or build time."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from services.alarms import (
    api,
    exchange_api,
    handlers,
    live_tests_api,
    presses_service,
    service,
    supervision_api,
    supervision_service,
)
from services.alarms.deps import Deps
from services.alarms.journal import PressJournal
from services.alarms.lifecycle import Timers
from services.alarms.live_tests_repository import MongoLiveTestRepository
from services.alarms.metrics import AlarmMetrics
from services.alarms.presses_service import trusted_devices
from services.alarms.repository import MongoAlarmRepository
from services.alarms.settings import AlarmsSettings
from services.alarms.supervision import Rules
from services.alarms.supervision_repository import MongoSupervisionRepository
from services.alarms.supervision_service import Supervision, gap_for
from shared.bus.background import Afterwards, Round
from shared.events import utcnow
from shared.exchange.cap import Sender
from shared.provisioning import County, device_secrets, load_county
from shared.ratelimit import TokenBuckets
from shared.settings import Settings
from shared.web import ServiceKit

NAME = "alarms"
# The open-alarms gauge is refreshed this often (Prometheus scrapes every 15 s).
OPEN_GAUGE_S = 5.0


def create_app(settings: Settings | None = None) -> FastAPI:
    s = AlarmsSettings.of(settings)
    kit = ServiceKit.create(NAME, s)
    deps = build_deps(s, kit)
    kit.subscribe(handlers.subscriptions(deps))
    failures = kit.failures
    journal, supervision = deps.journal, deps.supervision
    assert journal is not None and supervision is not None and deps.live_tests is not None

    async def claim_journal() -> None:
        journal.claim()

    async def release_journal() -> None:
        journal.release()

    async def enroll_devices() -> None:
        await supervision.repo.ensure_indexes()
        await supervision_service.enroll(supervision=supervision, county=deps.county, now=utcnow())

    background, serving = rounds(s, deps, supervision)
    return kit.app(
        routers=[api.router, supervision_api.router, live_tests_api.router, exchange_api.router],
        deps=deps,
        startup=[
            claim_journal,
            deps.repo.ensure_indexes,
            enroll_devices,
            deps.live_tests.ensure_indexes,
        ],
        shutdown=[deps.afterwards.stop, release_journal, supervision.beats.close],
        background=[r.job(failures) for r in background],
        serving=[r.job(failures) for r in serving],
        description=DESCRIPTION,
    )


def build_deps(s: AlarmsSettings, kit: ServiceKit) -> Deps:
    county = load_county(s.county_file)
    seed = s.device_key_seed.get_secret_value() if s.device_key_seed else None
    metrics = AlarmMetrics(kit.registry)
    return Deps(
        repo=MongoAlarmRepository(kit.database, signature_ttl_s=3 * s.signature_window_s),
        publisher=kit.publisher,
        topics=kit.topics,
        devices=trusted_devices(county, device_secrets(county, seed)),
        county=county,
        metrics=metrics,
        signature_window_s=s.signature_window_s,
        timers=Timers(
            ack_timeout=timedelta(seconds=s.ack_timeout_s),
            on_scene_timeout=timedelta(seconds=s.on_scene_timeout_s),
            escalation_step=timedelta(seconds=s.escalation_step_s),
        ),
        fold_window=timedelta(seconds=s.fold_window_s),
        journal=PressJournal(s.journal_dir),
        publish_timeout_s=s.publish_timeout_s,
        press_limiter=TokenBuckets(burst=s.press_burst, refill_s=s.press_refill_s),
        afterwards=Afterwards("outbox-settle", kit.failures),
        supervision=build_supervision(s, kit, county, metrics),
        live_tests=MongoLiveTestRepository(kit.database),
        sender=Sender(
            sender=s.exchange_sender,
            name=county.name,
            zone=county.zone,
            area_radius_m=s.exchange_area_radius_m,
        ),
    )


def rounds(
    s: AlarmsSettings, deps: Deps, supervision: Supervision
) -> tuple[list[Round], list[Round]]:
    """The background rounds (in processes that consume) and the serving ones (in every
    process that answers requests, an HTTP-only one too)."""
    background = [
        # deadlines, outbox leftovers
        Round("ticker", s.tick_s, lambda: service.tick(deps=deps, now=utcnow())),
        Round("open-gauge", OPEN_GAUGE_S, lambda: service.count_open(deps=deps)),
    ]
    serving = [
        # presses journaled here are forwarded from here
        Round("journal", s.tick_s, lambda: presses_service.forward_journal(deps=deps)),
        # silence is judged where heartbeats are heard
        Round(
            "supervision",
            s.supervision_round_s,
            lambda: supervision_service.supervise(supervision=supervision, now=utcnow()),
        ),
        Round(
            "trouble-gauge",
            OPEN_GAUGE_S,
            lambda: supervision_service.count_troubles(supervision=supervision),
        ),
    ]
    return background, serving


def build_supervision(
    s: AlarmsSettings, kit: ServiceKit, county: County, metrics: AlarmMetrics
) -> Supervision:
    rules = Rules(
        offline_after=timedelta(seconds=s.offline_after_s),
        battery_low_pct=s.battery_low_pct,
        battery_restored_pct=s.battery_restored_pct,
        repeat_every=timedelta(seconds=s.trouble_repeat_s),
    )
    return Supervision(
        repo=MongoSupervisionRepository(kit.database),
        publisher=kit.publisher,
        topics=kit.topics,
        metrics=metrics,
        devices=frozenset(d.device_id for d in county.devices),
        rules=rules,
        heartbeat_every_s=s.heartbeat_every_s,
        gap=gap_for(rules, heartbeat_every_s=s.heartbeat_every_s, round_s=s.supervision_round_s),
        commit_window_s=s.heartbeat_commit_s,
    )


DESCRIPTION = """Button ingress (signed), device trust, and the alarm lifecycle (single writer).

Lifecycle: raised → dispatched → acknowledged → unit_assigned → en_route → on_scene → resolved,
with cancelled (false alarm, test, drill) and escalated from any open state. Commands go through
`alarms.commands` and are applied once (by command_id) if the state machine allows them; a
refused command answers 409 with the reason, a command this actor may not give answers 403.

Timers (settings): no acknowledgement within ACK_TIMEOUT_S (30 s) → escalated, and again every
ESCALATION_STEP_S (60 s); no unit on scene within ON_SCENE_TIMEOUT_S (900 s) → escalated.
Deadlines live in the database: after a restart an overdue one fires at once, exactly once.

A press is answered 202 once it is on the broker; when the broker does not acknowledge within
PUBLISH_TIMEOUT_S (2 s) it is fsync'd to a local journal (JOURNAL_DIR) first and forwarded, in
order, as soon as the broker is back.

Presses at a school whose alarm is open (raised within FOLD_WINDOW_S, 600 s) fold into it;
a second device raises the severity. Test and drill presses follow the same path, marked.

Button supervision (DESIGN §5.4): devices beat every HEARTBEAT_EVERY_S (60 s); a device
neither beating nor pressing within OFFLINE_AFTER_S (200 s) is an `offline` trouble, a battery
below BATTERY_LOW_PCT a `battery_low` one, an open tamper switch a `tamper` one; each is
announced again every TROUBLE_REPEAT_S (4 h) while it lasts, and ends with a restoral, on
`devices.troubles`. Silence is not counted while supervision itself was stopped."""
