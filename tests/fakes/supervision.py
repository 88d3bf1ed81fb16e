"""The in-memory fake of services.alarms.supervision_repository; held to the real one by
tests/contracts/test_supervision_repository.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from services.alarms.supervision import DeviceHealth, TroubleChange
from services.alarms.supervision_repository import Heard
from shared.events import SchoolRef


class InMemorySupervisionRepository:
    """Same behaviour as the MongoDB repository, in dicts; for unit tests only."""

    def __init__(self) -> None:
        self.health: dict[str, DeviceHealth] = {}
        self.ticked_at: datetime | None = None
        self.resumed_at: datetime | None = None

    async def ensure_indexes(self) -> None:
        return None

    async def enroll(self, devices: Sequence[tuple[str, SchoolRef]], *, watch_at: datetime) -> int:
        added = 0
        for device_id, school in devices:
            if device_id in self.health:
                self.health[device_id] = self.health[device_id].model_copy(
                    update={"school": school}
                )
                continue
            self.health[device_id] = DeviceHealth(
                device_id=device_id, school=school, watch_at=watch_at
            )
            added += 1
        return added

    async def record_heard(self, heard: Sequence[Heard]) -> None:
        for h in heard:
            stored = self.health.get(h.device_id)
            if stored is None:
                continue  # an update of a device never enrolled matches nothing
            update: dict[str, object] = {
                "last_seen": max(filter(None, (stored.last_seen, h.at))),
                "watch_at": max(filter(None, (stored.watch_at, h.watch_at))),
            }
            if h.beat is not None:
                update["beat"] = h.beat
            self.health[h.device_id] = stored.model_copy(update=update)

    async def get(self, device_id: str) -> DeviceHealth | None:
        return self.health.get(device_id)

    async def troubled(self, *, limit: int) -> list[DeviceHealth]:
        return [h for h in self.health.values() if h.troubles or h.outbox][:limit]

    async def overdue(self, now: datetime, *, limit: int) -> list[DeviceHealth]:
        return [h for h in self.health.values() if h.watch_at is not None and h.watch_at <= now][
            :limit
        ]

    async def compare_and_set(
        self, health: DeviceHealth, change: TroubleChange, *, now: datetime
    ) -> bool:
        stored = self.health.get(health.device_id)
        if stored is None or stored.version != health.version:
            return False
        update: dict[str, object] = {
            "troubles": change.troubles,
            "version": stored.version + 1,
            "outbox": [*stored.outbox, *change.events],
        }
        if change.offline_raised:
            if stored.watch_at is None or stored.watch_at > now:
                return False
            update["watch_at"] = None
        self.health[health.device_id] = stored.model_copy(update=update)
        return True

    async def pull_outbox(self, device_id: str, event_id: uuid.UUID) -> None:
        stored = self.health[device_id]
        outbox = [e for e in stored.outbox if e.event_id != event_id]
        self.health[device_id] = stored.model_copy(update={"outbox": outbox})

    async def tick(self, now: datetime, *, gap: timedelta) -> datetime:
        if self.ticked_at is None or self.resumed_at is None or self.ticked_at < now - gap:
            self.resumed_at = now
        self.ticked_at = max(now, self.ticked_at or now)
        return self.resumed_at

    async def count_troubles(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for health in self.health.values():
            for kind in health.troubles:
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    async def find(
        self, *, in_trouble: bool, school_id: str | None, limit: int
    ) -> list[DeviceHealth]:
        found = [
            h
            for h in sorted(self.health.values(), key=lambda h: h.device_id)
            if (not in_trouble or h.troubles)
            and (school_id is None or h.school.school_id == school_id)
        ]
        return found[:limit]
