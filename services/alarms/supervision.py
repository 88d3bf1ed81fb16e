"""Button supervision, the domain (DESIGN §5.4): what a heartbeat, silence or time says about
a device's troubles. Pure functions over a device's health; no I/O.

A device is heard when it beats or presses. `watch_at` is when its silence becomes an
`offline` trouble: every beat and press pushes it on, raising `offline` removes it, so a
device with an open `offline` trouble and a `watch_at` has been heard since (a restoral).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events import DeviceTrouble, PowerSource, SchoolRef, TroubleKind, stable_id
from shared.inputs import Moment


class HeartbeatRequest(BaseModel):
    """Body of `POST /v1/devices/{device_id}/heartbeat` (contract DESIGN §5.4)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    sent_at: Moment = Field(..., description="Device clock, RFC 3339 with offset")
    battery_pct: int | None = Field(
        ..., ge=0, le=100, description="Battery charge; null for a device on mains"
    )
    tamper: bool = Field(..., description="The casing is open or the device was moved")
    power: PowerSource = Field(..., description="What the device runs on now")
    firmware: str = Field(..., min_length=1, max_length=64)
    signal_dbm: int | None = Field(None, ge=-150, le=0, description="Radio signal, if any")


class HeartbeatAnswer(BaseModel):
    """Answer to a heartbeat: when the device is to beat next."""

    next_in_s: int = Field(..., ge=1, description="Seconds until the next heartbeat")


class Beat(BaseModel):
    """What the last heartbeat reported, as stored with the device's health."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sent_at: AwareDatetime
    received_at: AwareDatetime
    battery_pct: int | None
    tamper: bool
    power: PowerSource
    firmware: str
    signal_dbm: int | None = None


class OpenTrouble(BaseModel):
    """A trouble from its raise to its restoral."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    trouble_id: uuid.UUID
    since: AwareDatetime
    announced_at: AwareDatetime = Field(..., description="Last raised or repeated")
    count: int = Field(1, ge=1)


class DeviceHealth(BaseModel):
    """A supervised device (collection `device_health`, _id = device_id). `outbox` holds the
    trouble events written in the same atomic update as the change they describe; `version`
    orders changes to the troubles (compare-and-set). Heartbeats change only `last_seen`,
    `watch_at` and `beat`."""

    model_config = ConfigDict(extra="ignore")

    device_id: str
    school: SchoolRef
    last_seen: AwareDatetime | None = None
    watch_at: AwareDatetime | None = None
    beat: Beat | None = None
    troubles: dict[TroubleKind, OpenTrouble] = Field(default_factory=dict)
    version: int = 0
    outbox: list[DeviceTrouble] = Field(default_factory=list)


@dataclass(frozen=True)
class Rules:
    """When silence, a battery or a tamper switch is a trouble, and how often it is repeated."""

    offline_after: timedelta = timedelta(seconds=200)
    battery_low_pct: int = 20
    battery_restored_pct: int = 25
    repeat_every: timedelta = timedelta(hours=4)


@dataclass(frozen=True)
class TroubleChange:
    """Troubles to raise, repeat and restore on one device, with the events they make."""

    troubles: dict[TroubleKind, OpenTrouble]
    events: list[DeviceTrouble] = field(default_factory=list)
    offline_raised: bool = False

    @property
    def empty(self) -> bool:
        return not self.events


def verdict_of(beat: Beat, rules: Rules) -> dict[TroubleKind, bool]:
    """What a heartbeat tells: kind → in trouble. The battery between its low and restored
    marks tells nothing (no flapping around one threshold); on mains it is no trouble."""
    verdict: dict[TroubleKind, bool] = {"tamper": beat.tamper}
    if beat.battery_pct is None or beat.power == "mains":
        verdict["battery_low"] = False
    elif beat.battery_pct < rules.battery_low_pct:
        verdict["battery_low"] = True
    elif beat.battery_pct >= rules.battery_restored_pct:
        verdict["battery_low"] = False
    return verdict


def judge(
    health: DeviceHealth, verdict: dict[TroubleKind, bool], *, now: datetime
) -> TroubleChange:
    """Raise what the verdict finds and is not open; restore what it clears and is open."""
    troubles = dict(health.troubles)
    events = []
    for kind, bad in sorted(verdict.items()):
        if bad and kind not in troubles:
            trouble = OpenTrouble(
                trouble_id=stable_id("trouble", health.device_id, kind, now.isoformat()),
                since=now,
                announced_at=now,
            )
            troubles[kind] = trouble
            events.append(trouble_event(health, kind, trouble, "raised", now=now))
        elif not bad and kind in troubles:
            events.append(trouble_event(health, kind, troubles.pop(kind), "restored", now=now))
    offline_raised = verdict.get("offline", False) and "offline" not in health.troubles
    return TroubleChange(troubles, events, offline_raised=offline_raised)


def repeats(health: DeviceHealth, rules: Rules, *, now: datetime) -> TroubleChange:
    """Every open trouble not announced for `repeat_every`, announced again."""
    troubles = dict(health.troubles)
    events = []
    for kind, trouble in sorted(troubles.items()):
        if now - trouble.announced_at >= rules.repeat_every:
            again = trouble.model_copy(update={"announced_at": now, "count": trouble.count + 1})
            troubles[kind] = again
            events.append(trouble_event(health, kind, again, "repeated", now=now))
    return TroubleChange(troubles, events)


def on_inspection(health: DeviceHealth, rules: Rules, *, now: datetime) -> TroubleChange:
    """A troubled device as stored: restorals its last beat (or being heard) already earned,
    else repeats that are due. The stored beat may be newer than the trouble: a beat another
    instance took, or one that reached this instance before its view of the troubles did."""
    verdict = verdict_of(health.beat, rules) if health.beat else {}
    verdict = {kind: bad for kind, bad in verdict.items() if kind in health.troubles and not bad}
    if "offline" in health.troubles and health.watch_at is not None:
        verdict["offline"] = False
    restored = judge(health, verdict, now=now)
    if not restored.empty:
        return restored
    return repeats(health, rules, now=now)


def trouble_event(
    health: DeviceHealth,
    kind: TroubleKind,
    trouble: OpenTrouble,
    status: str,
    *,
    now: datetime,
) -> DeviceTrouble:
    """The event of one announcement; its id derives from (trouble, status, count), so the
    relay may publish it more than once and consumers still see it once."""
    return DeviceTrouble.model_validate(
        {
            "event_id": stable_id(
                "device-trouble", str(trouble.trouble_id), status, str(trouble.count)
            ),
            "occurred_at": now,
            "trouble_id": trouble.trouble_id,
            "device_id": health.device_id,
            "school": health.school,
            "kind": kind,
            "status": status,
            "since": trouble.since,
            "count": trouble.count,
            "last_seen": health.last_seen,
            "battery_pct": health.beat.battery_pct if health.beat else None,
            "detail": DETAILS[kind][status],
        }
    )


DETAILS: dict[str, dict[str, str]] = {
    "offline": {
        "raised": "no heartbeat or press within the limit: check the button and its network",
        "repeated": "still not heard from",
        "restored": "heard from again",
    },
    "battery_low": {
        "raised": "battery low: replace it before the button can no longer send an alarm",
        "repeated": "battery still low",
        "restored": "battery replaced or charged",
    },
    "tamper": {
        "raised": "the casing was opened or the button moved",
        "repeated": "still reports tampering",
        "restored": "tamper switch closed again",
    },
}
