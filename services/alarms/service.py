"""Alarm logic: device trust, durable acceptance of presses, raising alarms exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.alarms.metrics import AlarmMetrics
from services.alarms.models import Alarm, PressAccepted, PressRequest, TrustedDevice
from services.alarms.repository import AlarmRepository
from shared.bus import Publisher
from shared.events import AlarmLifecycle, AlarmPressed, stable_id
from shared.provisioning import County
from shared.signing import signature_valid, timestamp_fresh
from shared.topics import Topics


class Rejected(Exception):
    """A request refused with an HTTP status and a machine-readable reason."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Deps:
    """What the alarms logic runs on; `main.bootstrap` builds it, tests build their own."""

    repo: AlarmRepository
    publisher: Publisher
    topics: Topics
    devices: Mapping[str, TrustedDevice]
    county: County
    metrics: AlarmMetrics
    signature_window_s: int


def trusted_devices(county: County, secrets: Mapping[str, str]) -> dict[str, TrustedDevice]:
    """device_id → device with its school and secret."""
    devices = {}
    for device in county.devices:
        school = county.school(device.school_id)
        assert school is not None  # County validates references
        devices[device.device_id] = TrustedDevice(
            device.device_id, school, secrets[device.device_id]
        )
    return devices


def authenticate(
    *,
    devices: Mapping[str, TrustedDevice],
    device_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window_s: int,
) -> TrustedDevice:
    """The device that signed this request, or Rejected(401)."""
    if not device_id or not timestamp or not signature:
        raise Rejected(
            401, "missing_headers", "X-Device-Id, X-Timestamp and X-Signature are required"
        )
    device = devices.get(device_id)
    if device is None:
        raise Rejected(401, "unknown_device", "unknown device")
    if not timestamp_fresh(timestamp, now, window_s):
        raise Rejected(401, "stale_timestamp", f"X-Timestamp is more than {window_s} s off")
    if not signature_valid(device.secret, timestamp, body, signature):
        raise Rejected(401, "bad_signature", "signature does not match")
    return device


def authorize_press(device: TrustedDevice, request: PressRequest) -> None:
    """A device may press only as itself, for its own school."""
    if request.device_id != device.device_id:
        raise Rejected(403, "device_mismatch", "body device_id differs from X-Device-Id")
    if request.school_id != device.school.school_id:
        raise Rejected(403, "wrong_school", "device is not installed at this school")


async def accept_press(*, deps: Deps, request: PressRequest, now: datetime) -> PressAccepted:
    """Record the press and return only once it is on the broker (acks=all)."""
    event = AlarmPressed(
        event_id=stable_id("pressed", str(request.press_id)),
        occurred_at=now,
        press_id=request.press_id,
        alarm_id=stable_id("alarm", str(request.press_id)),
        school_id=request.school_id,
        device_id=request.device_id,
        kind=request.kind,
        silent=request.silent,
        test=request.test,
        location=request.location,
        pressed_at=request.pressed_at,
        received_at=now,
    )
    record = await deps.repo.record_press(event)
    if record.event.device_id != request.device_id:
        raise Rejected(409, "press_id_conflict", "press_id already used by another device")
    if not record.published:
        await deps.publisher.publish(
            deps.topics.alarms_pressed, record.event.school_id, record.event
        )
        await deps.repo.mark_press_published(record.event.press_id)
    return PressAccepted(alarm_id=record.event.alarm_id, duplicate=not record.new)


async def raise_alarm(*, deps: Deps, pressed: AlarmPressed, now: datetime) -> Alarm:
    """Create the alarm for a press once; publish `raised` until it is known to be published."""
    school = deps.county.school(pressed.school_id)
    if school is None:
        raise ValueError(f"press for unknown school {pressed.school_id}")
    alarm = await deps.repo.create_alarm(Alarm.from_press(pressed, school.ref(), now))
    if alarm.raised_published:
        return alarm
    event = lifecycle_event(alarm, state="raised", previous=None, at=alarm.raised_at)
    await deps.repo.append_audit(event)
    await deps.publisher.publish(deps.topics.alarms_lifecycle, str(alarm.alarm_id), event)
    await deps.repo.mark_raised_published(alarm.alarm_id)
    deps.metrics.alarms_raised.labels(alarm.kind, str(alarm.test).lower()).inc()
    return alarm


def lifecycle_event(
    alarm: Alarm, *, state: str, previous: str | None, at: datetime, actor: str = "system"
) -> AlarmLifecycle:
    """The transition event; its id is derived, so a re-publish is recognised downstream."""
    return AlarmLifecycle.model_validate(
        {
            "event_id": stable_id("lifecycle", str(alarm.alarm_id), state, at.isoformat()),
            "occurred_at": at,
            "alarm_id": alarm.alarm_id,
            "state": state,
            "previous_state": previous,
            "school": alarm.school,
            "kind": alarm.kind,
            "silent": alarm.silent,
            "test": alarm.test,
            "location": alarm.location,
            "device_id": alarm.device_id,
            "pressed_at": alarm.pressed_at,
            "received_at": alarm.received_at,
            "actor": actor,
        }
    )


async def get(*, deps: Deps, alarm_id: uuid.UUID) -> Alarm | None:
    return await deps.repo.get(alarm_id)
