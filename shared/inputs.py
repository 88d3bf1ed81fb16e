"""Types for what clients send: stricter than pydantic's lax defaults where those would take
what the published schema does not allow."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

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


# A moment as clients send it: RFC 3339 text with an offset, as the OpenAPI says.
Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
