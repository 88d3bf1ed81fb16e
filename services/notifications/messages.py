"""Outbound messages: webhooks for outside systems, and the school's "help is on the way" on
its buttons and by SMS; delivered with retries and dead-lettered in the end."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from prometheus_client import Counter

from services.notifications.deps import Deps
from services.notifications.models import (
    DeviceMessage,
    FeedEntry,
    delivery_id,
    notification_id,
    order_id,
)
from services.notifications.outbound import (
    Endpoint,
    OutboundJob,
    Outcome,
    classify,
    encode,
    request_headers,
)
from shared.bus.background import Afterwards
from shared.carry import carry
from shared.events import AlarmLifecycle, DeadLetter, DeliveryChanged, DeliveryState
from shared.exchange import cap, eido
from shared.topics import Topics

log = logging.getLogger(__name__)


async def queue_webhooks(
    *, deps: Deps, event: AlarmLifecycle, entry: FeedEntry, now: datetime
) -> None:
    """Every webhook receiver is told of a raised alarm, once, in the format it takes."""
    for endpoint in deps.outbound.webhooks:
        recipient = f"webhook:{endpoint.name}"
        nid = notification_id(entry.alarm_id, recipient)
        job = _job(nid, entry.alarm_id, "webhook", recipient, endpoint.url, {}, now)
        await _queue(
            deps=deps, job=job.model_copy(update=_in_format(deps, endpoint, event, entry, nid))
        )


def _in_format(
    deps: Deps, endpoint: Endpoint, event: AlarmLifecycle, entry: FeedEntry, nid: uuid.UUID
) -> dict[str, Any]:
    """The job's message in the receiver's format, validated against its schema when the
    format has one (shared.exchange): what a receiver gets is never invalid."""
    sender = deps.outbound.sender
    if endpoint.format == "cap" and sender is not None:
        xml = cap.message(event, sender)
        cap.validate(xml)
        return {"payload": xml.decode(), "content_type": cap.MEDIA_TYPE}
    if endpoint.format == "eido" and sender is not None:
        doc = eido.document(event, sender)
        eido.validate(doc)
        return {"payload": json.dumps(doc, ensure_ascii=False), "content_type": eido.MEDIA_TYPE}
    body = {"notification_id": str(nid)} | entry.model_dump(
        mode="json", exclude={"seq", "event_id"}
    )
    return {"body": body}


def _job(
    nid: uuid.UUID,
    alarm_id: uuid.UUID,
    channel: Literal["webhook", "sms"],
    recipient: str,
    url: str,
    body: dict[str, Any],
    now: datetime,
) -> OutboundJob:
    return OutboundJob(
        notification_id=nid,
        alarm_id=alarm_id,
        channel=channel,
        recipient=recipient,
        url=url,
        body=body,
        next_attempt_at=now,
        created_at=now,
    )


async def _queue(*, deps: Deps, job: OutboundJob) -> None:
    if await deps.repo.insert_outbound(job):
        await _outbound_delivery(deps=deps, job=job, state="queued")


async def _outbound_delivery(
    *, deps: Deps, job: OutboundJob, state: DeliveryState, reason: str | None = None
) -> None:
    deps.metrics.deliveries.labels(job.channel, state).inc()
    event_id = delivery_id(job.notification_id, state)
    event = carry(DeliveryChanged, job, event_id=event_id, state=state, reason=reason)
    await deps.publisher.publish(deps.topics.notifications_deliveries, str(job.alarm_id), event)


def help_on_the_way(unit_id: str, callsign: str, distance_m: float | None) -> str:
    if distance_m is None:
        return (
            f"警方已出警：{callsign}（{unit_id}）正赶往学校。"
            f" Help is on the way: {callsign} ({unit_id})."
        )
    distance = round(distance_m / 50) * 50 or 50
    return (
        f"警方已出警：{callsign}（{unit_id}）距学校约 {distance} 米。"
        f" Help is on the way: {callsign} ({unit_id}), about {distance} m away."
    )


async def _distance_of(
    *, deps: Deps, event: AlarmLifecycle, unit_id: str, now: datetime
) -> float | None:
    """How far the unit was: from its order for the alarm, else from its latest fix."""
    order = await deps.repo.get_order(order_id(event.alarm_id, unit_id))
    if order is not None:
        return order.distance_m
    return deps.board.distance(unit_id, lat=event.school.lat, lon=event.school.lon)


async def tell_the_school(
    *, deps: Deps, event: AlarmLifecycle, unit_id: str, now: datetime
) -> None:
    """'Help is on the way', with the assigned unit and its distance, once per assignment
    (whoever assigned it): on the buttons that pressed (shown without a sound), and by SMS to
    the school's contact unless the alarm is silent or a test; a silent alarm never makes
    anything at the school ring. Every step is an insert by a stable id: a retry after a
    failure half-way tells nobody twice."""
    unit = deps.county.unit(unit_id) if deps.county else None
    distance = await _distance_of(deps=deps, event=event, unit_id=unit_id, now=now)
    text = help_on_the_way(unit_id, unit.callsign if unit else unit_id, distance)
    for device_id in event.devices or [event.device_id]:
        recipient = f"device:{device_id}"
        message = DeviceMessage(
            notification_id=notification_id(event.alarm_id, recipient, unit_id),
            device_id=device_id,
            alarm_id=event.alarm_id,
            text=text,
            unit_id=unit_id,
            distance_m=distance,
            created_at=now,
        )
        if await deps.repo.insert_device_message(message):
            deps.metrics.deliveries.labels("device", "sent").inc()
    school = deps.county.school(event.school.school_id) if deps.county else None
    if event.silent or event.test or deps.outbound.sms_gateway_url is None:
        return
    if school is None or not school.contact_phone:
        return
    recipient = f"sms:{school.school_id}"
    nid = notification_id(event.alarm_id, recipient, unit_id)
    body = {"notification_id": str(nid), "to": school.contact_phone, "text": text}
    await _queue(
        deps=deps,
        job=_job(nid, event.alarm_id, "sms", recipient, deps.outbound.sms_gateway_url, body, now),
    )


# A claimed job is not claimed again for this long: longer than one POST may take (deadline_s).
OUTBOUND_LEASE = timedelta(seconds=30)


class OutboundSender:
    """Sends due outbound jobs, each POST on its own task: a slow or silent receiver holds
    its own job (until `deadline_s`), never the others. A round claims only as many jobs as
    there is room for (`at_once`); a job whose task fails keeps its lease, and is claimed
    again once the lease ends (receivers deduplicate by notification id)."""

    def __init__(
        self, *, deps: Deps, client: httpx.AsyncClient, failures: Counter | None = None
    ) -> None:
        self._deps = deps
        self._client = client
        self._posts = Afterwards("outbound", failures)

    async def round(self, now: datetime) -> int:
        """Start sending the jobs due at `now` that there is room for; returns how many."""
        room = self._deps.outbound.at_once - self._posts.under_way
        if room <= 0:
            return 0
        jobs = await self._deps.repo.claim_outbound(now, lease=OUTBOUND_LEASE, limit=room)
        for job in jobs:
            await self._posts.run(_send_one(deps=self._deps, client=self._client, job=job, now=now))
        return len(jobs)

    async def drain(self) -> None:
        """Wait for the POSTs under way (tests; a clean stop)."""
        await self._posts.drain()

    async def close(self) -> None:
        await self._posts.cancel()


async def _post(deps: Deps, client: httpx.AsyncClient, job: OutboundJob) -> Outcome:
    """The job's POST within its deadline; the status is all that is read of the answer."""
    raw = encode(job)
    headers = request_headers(
        job,
        raw,
        webhook_secret=deps.outbound.webhook_secret,
        sms_token=deps.outbound.sms_gateway_token,
    )
    try:
        async with (
            asyncio.timeout(deps.outbound.deadline_s),
            client.stream("POST", job.url, content=raw, headers=headers) as response,
        ):
            return classify(response.status_code)
    except httpx.HTTPError as exc:  # unreachable, timed out, refused: try again later
        return Outcome(delivered=False, error=f"{type(exc).__name__}: {exc}"[:300])
    except TimeoutError:
        return Outcome(delivered=False, error=f"no answer within {deps.outbound.deadline_s:g} s")


async def _send_one(
    *, deps: Deps, client: httpx.AsyncClient, job: OutboundJob, now: datetime
) -> None:
    outcome = await _post(deps, client, job)
    attempts = job.attempts + 1
    if outcome.delivered:
        settled = await deps.repo.settle_outbound(
            job, state="delivered", attempts=attempts, leased_until=None
        )
        await _outbound_delivery(deps=deps, job=settled, state="delivered")
        return
    if outcome.retryable and attempts < deps.outbound.retry.max_attempts:
        deps.metrics.outbound_retries.labels(job.channel).inc()
        await deps.repo.settle_outbound(
            job,
            attempts=attempts,
            last_error=outcome.error,
            next_attempt_at=now + deps.outbound.retry.delay(attempts, deps.outbound.rng),
            leased_until=None,
        )
        return
    await deps.repo.settle_outbound(
        job,
        state="failed",
        attempts=attempts,
        last_error=outcome.error,
        leased_until=None,
    )
    reason = f"{outcome.error} after {attempts} tries"
    await _outbound_delivery(deps=deps, job=job, state="failed", reason=reason)
    await _dead_letter(deps=deps, job=job, reason=reason)


async def _dead_letter(*, deps: Deps, job: OutboundJob, reason: str) -> None:
    deps.metrics.outbound_dead_letters.labels(job.channel).inc()
    log.error(
        "outbound message dead-lettered",
        extra={"recipient": job.recipient, "alarm_id": str(job.alarm_id), "error": reason},
    )
    await deps.publisher.publish(
        Topics.dlq(deps.topics.notifications_deliveries),
        str(job.alarm_id),
        DeadLetter(
            topic=job.recipient,
            partition=-1,
            offset=job.attempts + 1,
            key=str(job.alarm_id),
            service="notifications",
            error=reason,
            payload=encode(job).decode(),
        ),
    )
