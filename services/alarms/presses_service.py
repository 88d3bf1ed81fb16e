"""Button presses: device trust, the rate limit, and durable acceptance (on the broker, or
fsync'd in the local journal that is forwarded in order when the broker is back)."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Mapping
from datetime import datetime

from services.alarms.deps import Deps
from services.alarms.models import PressAccepted, PressRequest, TrustedDevice
from shared.carry import carry
from shared.events import AlarmPressed, stable_id
from shared.faults import is_broker_down
from shared.provisioning import County
from shared.signing import DeviceAuthError, verify_device

log = logging.getLogger(__name__)


class Rejected(Exception):
    """A press refused, with a machine-readable reason; api.py answers each kind with its
    HTTP status."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class NotAuthenticated(Rejected):
    """The request is not signed by a known device, or its signature was used before."""


class NotAllowed(Rejected):
    """The device may not press this (another device's id, another school)."""


class PressConflict(Rejected):
    """The press_id is already another device's."""


class RateLimited(Rejected):
    """The device pressed too often; `retry_after` seconds until it may again."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate_limited", "too many presses")
        self.retry_after = retry_after


def admit(*, deps: Deps, device: TrustedDevice, now_monotonic: float) -> None:
    """Take one press from the device's token bucket, or RateLimited."""
    wait = math.ceil(deps.press_limiter.take(device.device_id, now_monotonic))
    if wait:
        raise RateLimited(retry_after=wait)


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
    """The device that signed this request, or NotAuthenticated."""

    def secret_of(device: str) -> str | None:
        trusted = devices.get(device)
        return trusted.secret if trusted else None

    try:
        verified = verify_device(
            secret_of,
            device_id=device_id,
            timestamp=timestamp,
            signature=signature,
            body=body,
            now=now,
            window_s=window_s,
        )
    except DeviceAuthError as exc:
        raise NotAuthenticated(exc.code, exc.message) from exc
    return devices[verified]


def authorize_press(device: TrustedDevice, request: PressRequest) -> None:
    """A device may press only as itself, for its own school."""
    if request.device_id != device.device_id:
        raise NotAllowed("device_mismatch", "body device_id differs from X-Device-Id")
    if request.school_id != device.school.school_id:
        raise NotAllowed("wrong_school", "device is not installed at this school")


async def refuse_replay(*, deps: Deps, signature: str, press_id: uuid.UUID, now: datetime) -> bool:
    """A signature is good once: again only as a retry of the same press (same answer).
    Returns True when the signature is new."""
    first = await deps.repo.remember_signature(signature.lower(), press_id, now=now)
    if first != press_id:
        raise NotAuthenticated("replayed_signature", "signature already used for another press")
    return True


def pressed_event(request: PressRequest, now: datetime) -> AlarmPressed:
    return carry(
        AlarmPressed,
        request,
        event_id=stable_id("pressed", str(request.press_id)),
        occurred_at=now,
        alarm_id=stable_id("alarm", str(request.press_id)),
        received_at=now,
    )


async def accept_press(
    *, deps: Deps, request: PressRequest, now: datetime, signature: str | None = None
) -> PressAccepted:
    """Record the press; return only once it is on the broker (acks=all) or, with the broker
    unreachable, fsync'd in the local journal that is forwarded in order when it is back.

    With the request's `signature`, the replay check runs while the press is recorded (both
    are on the path to the dispatchers), and a refused replay is never published. The
    signature covers the body, press_id included, so a signature seen before comes with the
    same press, whose record is idempotent; another press under a known signature (a forged
    HMAC) would be left recorded but unpublished, and refused."""
    recording = deps.repo.record_press(pressed_event(request, now))
    if signature is None:
        record = await recording
    else:
        record, _ = await asyncio.gather(
            recording,
            refuse_replay(deps=deps, signature=signature, press_id=request.press_id, now=now),
        )
    if record.event.device_id != request.device_id:
        raise PressConflict("press_id_conflict", "press_id already used by another device")
    via = "recorded"
    if not record.published:
        via = await _publish_or_journal(deps, record.event)
    deps.metrics.presses_accepted.labels(str(not record.new).lower(), via).inc()
    return PressAccepted(alarm_id=record.event.alarm_id, duplicate=not record.new)


async def _send_pressed(deps: Deps, event: AlarmPressed) -> None:
    await asyncio.wait_for(
        deps.publisher.publish(deps.topics.alarms_pressed, event.school_id, event),
        timeout=deps.publish_timeout_s,
    )
    await deps.repo.mark_press_published(event.press_id)


async def _publish_or_journal(deps: Deps, event: AlarmPressed) -> str:
    """'broker', or 'journal' when the broker did not acknowledge in time. While the journal
    has a backlog, new presses join it, so presses reach the broker in the order received."""
    if deps.journal is None:
        await _send_pressed(deps, event)
        return "broker"
    if deps.journal.backlog == 0:
        try:
            await _send_pressed(deps, event)
            return "broker"
        except Exception as exc:
            if not is_broker_down(exc):
                raise
            log.warning("broker unreachable; press journaled", extra={"error": repr(exc)})
    await deps.journal.append(event)
    deps.metrics.journal_backlog.set(deps.journal.backlog)
    return "journal"


async def forward_journal(*, deps: Deps) -> int:
    """Forward journaled presses in order; raises (and keeps them) while the broker is down."""
    if deps.journal is None or deps.journal.backlog == 0:
        return 0
    sent = await deps.journal.forward(lambda event: _send_pressed(deps, event))
    deps.metrics.journal_backlog.set(deps.journal.backlog)
    log.info("journal forwarded", extra={"presses": sent})
    return sent
