"""Button supervision (DESIGN §5.4): heartbeats taken in group commits, presses counted as
proof of life, and the supervisor's round that raises, repeats and restores troubles.

Cheap by construction: a heartbeat is one item of a batch write (`GroupCommit`), and is
compared with this instance's view of the devices in trouble; only a change of trouble costs
a write of its own. Troubles are decided once across instances by a compare-and-set on the
device's health, whose outbox carries the events (published, then pulled; the round relays
what is left)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.alarms.metrics import AlarmMetrics
from services.alarms.supervision import (
    Beat,
    DeviceHealth,
    HeartbeatRequest,
    Rules,
    TroubleChange,
    judge,
    on_inspection,
    verdict_of,
)
from services.alarms.supervision_repository import Heard, SupervisionRepository
from shared.bus.background import RELAY_AFTER
from shared.bus.publishers import Publisher
from shared.events import DeviceTrouble, SchoolRef, TroubleKind
from shared.faults import is_broker_down
from shared.group_commit import GroupCommit
from shared.provisioning import County
from shared.topics import Topics

log = logging.getLogger(__name__)

ROUND_LIMIT = 500  # devices looked at per kind of question in one round


class StaleHeartbeat(Exception):
    """A heartbeat older than one this instance already took from the device (a replay)."""


@dataclass
class Supervision:
    """What supervision is given: its store, rules, the heartbeat batches, and this instance's
    view of which devices are in trouble (refreshed every round)."""

    repo: SupervisionRepository
    publisher: Publisher
    topics: Topics
    metrics: AlarmMetrics
    devices: frozenset[str] = frozenset()
    rules: Rules = field(default_factory=Rules)
    heartbeat_every_s: int = 60
    # supervision stopped this long (every instance down, or the database unreachable) and
    # silence is counted from its return: see gap_for
    gap: timedelta = timedelta(seconds=70)
    commit_window_s: float = 0.25
    troubled: dict[str, frozenset[TroubleKind]] = field(default_factory=dict)
    newest_stamp: dict[str, int] = field(default_factory=dict)
    beats: GroupCommit[str, Heard] = field(init=False)

    def __post_init__(self) -> None:
        self.beats = GroupCommit(
            self.repo.record_heard, Heard.merged, window_s=self.commit_window_s
        )


def gap_for(rules: Rules, *, heartbeat_every_s: int, round_s: float) -> timedelta:
    """The longest pause in supervision that still counts silence through it. A device
    wrongly shows offline only if it missed more than the limit: the pause plus one interval
    to its next beat. Half of what remains, and never less than three rounds (jitter)."""
    spare = rules.offline_after - timedelta(seconds=heartbeat_every_s)
    return max(spare / 2, timedelta(seconds=3 * round_s))


async def enroll(*, supervision: Supervision, county: County, now: datetime) -> int:
    """Every provisioned device supervised; a new one's silence counted from now."""
    schools = {s.school_id: SchoolRef.model_validate(s.model_dump()) for s in county.schools}
    devices = [(d.device_id, schools[d.school_id]) for d in county.devices]
    added = await supervision.repo.enroll(devices, watch_at=now + supervision.rules.offline_after)
    log.info("devices supervised", extra={"devices": len(devices), "new": added})
    return added


def heard_at(*, now: datetime, signed_at: int) -> datetime:
    """When a signed request proves the device alive: its signed time, never later than now,
    so a replayed request proves nothing newer than when it was first sent."""
    return min(now, datetime.fromtimestamp(signed_at, tz=now.tzinfo))


async def heartbeat(
    *,
    supervision: Supervision,
    device_id: str,
    request: HeartbeatRequest,
    signed_at: int,
    now: datetime,
) -> int:
    """Record a heartbeat (returns once its batch is written); a trouble it raises or clears
    is decided at once. Returns the seconds until the next heartbeat."""
    newest = supervision.newest_stamp.get(device_id, 0)
    if signed_at < newest:
        raise StaleHeartbeat(f"signed at {signed_at}, after one signed at {newest}")
    supervision.newest_stamp[device_id] = signed_at
    at = heard_at(now=now, signed_at=signed_at)
    beat = Beat(
        sent_at=request.sent_at,
        received_at=now,
        battery_pct=request.battery_pct,
        tamper=request.tamper,
        power=request.power,
        firmware=request.firmware,
        signal_dbm=request.signal_dbm,
    )
    heard = Heard(device_id, at, at + supervision.rules.offline_after, beat)
    await supervision.beats.put(device_id, heard)
    verdict = verdict_of(beat, supervision.rules)
    if "offline" in supervision.troubled.get(device_id, frozenset()):
        verdict["offline"] = False
    if _changes_view(supervision, device_id, verdict):
        await _decide(supervision, device_id, verdict, now=now)
    return supervision.heartbeat_every_s


def heard_press(*, supervision: Supervision, device_id: str, signed_at: int, now: datetime) -> None:
    """A press is a proof of life: written with the next heartbeat batch, not awaited (the
    press does not wait for it); an `offline` trouble it ends is restored by the next round."""
    at = heard_at(now=now, signed_at=signed_at)
    supervision.beats.put_nowait(
        device_id, Heard(device_id, at, at + supervision.rules.offline_after)
    )


def _changes_view(
    supervision: Supervision, device_id: str, verdict: dict[TroubleKind, bool]
) -> bool:
    open_here = supervision.troubled.get(device_id, frozenset())
    return any(bad != (kind in open_here) for kind, bad in verdict.items())


async def _decide(
    supervision: Supervision, device_id: str, verdict: dict[TroubleKind, bool], *, now: datetime
) -> None:
    """Apply a heartbeat's verdict to the device as stored; one instance wins a race, the
    others find the change made when they read again."""
    for _ in range(3):
        health = await supervision.repo.get(device_id)
        if health is None:
            return  # not enrolled (yet): the next round's enrolment and look catch it
        change = judge(health, verdict, now=now)
        if change.empty or await _apply(supervision, health, change, now=now):
            _note(supervision, device_id, change)
            return
    log.warning("device health changed under three tries", extra={"device_id": device_id})


async def _apply(
    supervision: Supervision, health: DeviceHealth, change: TroubleChange, *, now: datetime
) -> bool:
    """Store the change with its events, then publish them; False if the device changed."""
    if not await supervision.repo.compare_and_set(health, change, now=now):
        return False
    for event in change.events:
        supervision.metrics.device_troubles.labels(event.kind, event.status).inc()
        log.warning(
            "device trouble",
            extra={"device_id": health.device_id, "kind": event.kind, "status": event.status},
        )
    try:
        await _publish(supervision, health.device_id, change.events)
    except Exception as exc:
        if not is_broker_down(exc):
            raise
        # stored with the change: the next rounds publish it (retried, not dropped)
        log.warning(
            "trouble events left to the supervision round: broker unreachable",
            extra={"device_id": health.device_id, "error": repr(exc)},
        )
    return True


async def _publish(supervision: Supervision, device_id: str, events: list[DeviceTrouble]) -> None:
    for event in events:
        await supervision.publisher.publish(supervision.topics.devices_troubles, device_id, event)
        await supervision.repo.pull_outbox(device_id, event.event_id)


def _note(supervision: Supervision, device_id: str, change: TroubleChange) -> None:
    if change.troubles:
        supervision.troubled[device_id] = frozenset(change.troubles)
    else:
        supervision.troubled.pop(device_id, None)


async def supervise(*, supervision: Supervision, now: datetime) -> None:
    """One round: restorals and repeats of the devices in trouble, events left in an outbox,
    then devices silent past their limit. Silence is not counted across a gap in supervision
    itself (every instance down, or the database unreachable)."""
    resumed_at = await supervision.repo.tick(now, gap=supervision.gap)
    troubled = await supervision.repo.troubled(limit=ROUND_LIMIT)
    supervision.troubled = {h.device_id: frozenset(h.troubles) for h in troubled if h.troubles}
    for health in troubled:
        await _inspect(supervision, health, now=now)
    if now - resumed_at < supervision.rules.offline_after:
        return  # within the grace after a gap: a device may not have had its chance to beat
    for health in await supervision.repo.overdue(now, limit=ROUND_LIMIT):
        if health.device_id not in supervision.devices:
            continue  # no longer provisioned
        change = judge(health, {"offline": True}, now=now)
        if not change.empty and await _apply(supervision, health, change, now=now):
            _note(supervision, health.device_id, change)


async def _inspect(supervision: Supervision, health: DeviceHealth, *, now: datetime) -> None:
    leftovers = [e for e in health.outbox if e.occurred_at <= now - RELAY_AFTER]
    if leftovers:
        await _publish(supervision, health.device_id, leftovers)
    change = on_inspection(health, supervision.rules, now=now)
    if not change.empty and await _apply(supervision, health, change, now=now):
        _note(supervision, health.device_id, change)


async def count_troubles(*, supervision: Supervision) -> None:
    """Refresh the devices-in-trouble gauge."""
    counts = await supervision.repo.count_troubles()
    for kind in ("offline", "battery_low", "tamper"):
        supervision.metrics.devices_in_trouble.labels(kind).set(counts.get(kind, 0))


async def find(
    *, supervision: Supervision, in_trouble: bool, school_id: str | None, limit: int
) -> list[DeviceHealth]:
    return await supervision.repo.find(in_trouble=in_trouble, school_id=school_id, limit=limit)
