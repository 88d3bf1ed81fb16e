"""Building one model from another without copying its fields one by one."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

# An event's own id, time and schema version belong to that event: never carried to another.
ENVELOPE = frozenset({"event_id", "occurred_at", "schema_version"})


def carry(target: type[M], source: BaseModel, *, omit: Collection[str] = (), **values: Any) -> M:
    """A `target` made of the fields of `source` it has too (same name; never the ENVELOPE,
    nor `omit`), then `values`, which win; validated as `target`."""
    shared = type(source).model_fields.keys() & target.model_fields.keys()
    carried = {name: getattr(source, name) for name in shared - ENVELOPE - set(omit)}
    return target.model_validate(carried | values)
