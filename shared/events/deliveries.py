"""What became of each notification (unit order, stream, webhook, SMS)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from shared.events.base import Event

DeliveryState = Literal["queued", "sent", "delivered", "acknowledged", "failed", "expired"]


DeliveryChannel = Literal["unit_stream", "dispatcher_stream", "webhook", "sms"]


class DeliveryChanged(Event):
    """A notification changed state (topic notifications.deliveries, key alarm_id). One
    notification per alarm and recipient: `notification_id` is derived from both."""

    notification_id: uuid.UUID
    alarm_id: uuid.UUID
    recipient: str = Field(..., description="`unit:<unit_id>`, `dispatchers`, or an endpoint name")
    channel: DeliveryChannel
    state: DeliveryState
    rank: int | None = Field(None, ge=1, description="The unit's place in the ranking")
    distance_m: float | None = Field(None, ge=0)
    reason: str | None = Field(None, max_length=500)
