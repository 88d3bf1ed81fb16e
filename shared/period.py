"""A period [since, until), either end open: what every filter of a list or a report holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Period:
    since: datetime | None = None
    until: datetime | None = None

    def holds(self, moment: datetime) -> bool:
        return (self.since is None or moment >= self.since) and (
            self.until is None or moment < self.until
        )

    def mongo(self, field: str) -> dict[str, Any]:
        """The period as a MongoDB condition on `field`; empty when both ends are open."""
        bounds = {op: at for op, at in (("$gte", self.since), ("$lt", self.until)) if at}
        return {field: bounds} if bounds else {}

    def backwards(self) -> bool:
        """True when it ends before it starts (a 422 for whoever asked)."""
        return self.since is not None and self.until is not None and self.since >= self.until
