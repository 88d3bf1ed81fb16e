"""Events of button supervision (DESIGN §5.4): a device's troubles and their restorals."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.events.base import Event, SchoolRef

TroubleKind = Literal["offline", "battery_low", "tamper"]
TroubleStatus = Literal["raised", "repeated", "restored"]
POWER_SOURCES = ("battery", "mains")
PowerSource = Literal["battery", "mains"]


class DeviceTrouble(Event):
    """A supervised button in trouble, the trouble announced again while it lasts, or its
    restoral (topic devices.troubles, key device_id). One trouble is one `trouble_id` from
    `raised` to `restored`; `repeated` events in between carry its `count`."""

    trouble_id: uuid.UUID = Field(..., description="One per trouble, from raised to restored")
    device_id: str
    school: SchoolRef
    kind: TroubleKind = Field(
        ...,
        description="`offline`: no heartbeat or press within the limit; `battery_low`: the "
        "battery below the threshold; `tamper`: the casing opened or the device moved",
    )
    status: TroubleStatus
    since: AwareDatetime = Field(..., description="When the trouble began")
    count: int = Field(1, ge=1, description="How many times it has been announced")
    last_seen: AwareDatetime | None = Field(
        None, description="The device's last heartbeat or press (none: never heard)"
    )
    battery_pct: int | None = Field(None, ge=0, le=100, description="At the last heartbeat")
    detail: str | None = Field(None, description="What an operator should know, in words")
