"""Outbound channels: webhooks (signed HTTP POST) and the SMS gateway (HTTP POST).

Each message is a job in MongoDB (collection `outbound`, _id = notification id, one per alarm
and recipient), so nothing is lost across a restart. A sender claims due jobs with a lease,
POSTs them, and on failure retries with exponential backoff and jitter; after the last try the
job is failed and dead-lettered. A receiver may see a message again only if the service died
between its POST and the record of it: every message carries its notification id
(`X-SafeCampus-Notification-Id`) to deduplicate by.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.signing import sign

OutboundChannel = Literal["webhook", "sms"]
OutboundState = Literal["queued", "delivered", "failed"]

# A 4xx other than these will not get better by trying again.
RETRYABLE_STATUS = frozenset({408, 425, 429})


class OutboundJob(BaseModel):
    """One message to send (collection `outbound`, _id = notification_id)."""

    model_config = ConfigDict(extra="ignore")

    notification_id: uuid.UUID
    alarm_id: uuid.UUID
    channel: OutboundChannel
    recipient: str = Field(..., description="`webhook:<name>` or `sms:<school_id>`")
    url: str
    body: dict[str, Any] = Field(
        default_factory=dict, description="SafeCampus JSON (when `payload` is not given)"
    )
    payload: str | None = Field(
        None, description="The message as sent, in another format (CAP XML, EIDO JSON)"
    )
    content_type: str = "application/json"
    state: OutboundState = "queued"
    attempts: int = 0
    next_attempt_at: datetime
    leased_until: datetime | None = None
    last_error: str | None = None
    created_at: datetime


WebhookFormat = Literal["safecampus", "cap", "eido"]
WEBHOOK_FORMATS: tuple[WebhookFormat, ...] = ("safecampus", "cap", "eido")


@dataclass(frozen=True)
class Endpoint:
    """A webhook receiver from WEBHOOK_URLS (`name=url`), in the format WEBHOOK_FORMATS gives
    it (SafeCampus JSON unless it says `cap` or `eido`)."""

    name: str
    url: str
    format: WebhookFormat = "safecampus"


def parse_endpoints(spec: str, formats: str = "") -> list[Endpoint]:
    """`name=url,name=url` and `name=format,…` → endpoints; ValueError naming the bad entry."""
    endpoints = []
    for item in _items(spec):
        name, sep, url = item.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ValueError(f"WEBHOOK_URLS entry {item!r} is not name=http(s)://…")
        endpoints.append(Endpoint(name=name, url=url))
    chosen: dict[str, WebhookFormat] = {}
    for item in _items(formats):
        name, _, wanted = item.partition("=")
        if wanted not in WEBHOOK_FORMATS:
            raise ValueError(
                f"WEBHOOK_FORMATS entry {item!r}: the format is one of {WEBHOOK_FORMATS}"
            )
        if name not in {e.name for e in endpoints}:
            raise ValueError(f"WEBHOOK_FORMATS entry {item!r} names no receiver of WEBHOOK_URLS")
        chosen[name] = wanted
    return [replace(e, format=chosen.get(e.name, "safecampus")) for e in endpoints]


def _items(spec: str) -> list[str]:
    return [part.strip() for part in spec.split(",") if part.strip()]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Exponential backoff after `attempts` tries, with up to 50 % jitter, capped."""
        exponential: timedelta = min(self.cap, self.base * (2 ** (attempts - 1)))
        jittered: timedelta = exponential * (1 + rng.random() / 2)
        return jittered


@dataclass(frozen=True)
class Outcome:
    """What one POST came to: delivered, or an error and whether trying again may help."""

    delivered: bool
    error: str | None = None
    retryable: bool = True


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome(delivered=True)
    retryable = status >= 500 or status in RETRYABLE_STATUS
    return Outcome(delivered=False, error=f"HTTP {status}", retryable=retryable)


def request_headers(
    job: OutboundJob, raw: bytes, *, webhook_secret: str | None, sms_token: str | None
) -> dict[str, str]:
    """Headers of a job's POST: its notification id, and the signature (webhook) or the bearer
    token (SMS gateway)."""
    headers = {
        "Content-Type": job.content_type,
        "X-SafeCampus-Notification-Id": str(job.notification_id),
    }
    if job.channel == "webhook" and webhook_secret is not None:
        timestamp = str(int(time.time()))
        headers["X-SafeCampus-Timestamp"] = timestamp
        headers["X-SafeCampus-Signature"] = sign(webhook_secret, timestamp, raw)
    if job.channel == "sms" and sms_token is not None:
        headers["Authorization"] = f"Bearer {sms_token}"
    return headers


def encode(job: OutboundJob) -> bytes:
    """The bytes a job sends: its payload as given, else its body as compact JSON."""
    if job.payload is not None:
        return job.payload.encode()
    return json.dumps(job.body, ensure_ascii=False, separators=(",", ":")).encode()
