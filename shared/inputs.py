"""Types for what clients send: stricter than pydantic's lax defaults where those would take
what the published schema does not allow."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

# The date part of RFC 3339 text; the rest is pydantic's to parse.
RFC3339_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def _rfc3339_text(value: object) -> object:
    """Refuse numbers (pydantic would read them as Unix times) and other non-RFC 3339 text."""
    if isinstance(value, str) and RFC3339_START.match(value):
        return value
    if isinstance(value, str | int | float | bool):
        raise ValueError(
            "must be an RFC 3339 date-time with an offset, e.g. 2026-11-30T08:00:00+08:00"
        )
    return value  # a datetime already (from Python callers)


# Moments a day inside what dates can hold, so that converting one to UTC, to the county's time
# or to the next day never overflows (a 500 where the client deserves a 422).
EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("must lie between 0002-01-01 and 9998-12-31 (UTC)")
    return value


# A moment as clients send it: RFC 3339 text with an offset, as the OpenAPI says.
Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_in_range)]
