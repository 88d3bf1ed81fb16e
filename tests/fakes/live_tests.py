"""The in-memory fake of services.alarms.live_tests_repository; held to the real one by
tests/contracts/test_live_tests_repository.py."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.alarms.live_tests import Attempt, LiveTest


class InMemoryLiveTestRepository:
    def __init__(self) -> None:
        self.tests: dict[uuid.UUID, LiveTest] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def create(self, test: LiveTest) -> LiveTest:
        return self.tests.setdefault(test.test_id, test)

    async def get(self, test_id: uuid.UUID) -> LiveTest | None:
        return self.tests.get(test_id)

    async def add_attempt(self, test_id: uuid.UUID, attempt: Attempt) -> None:
        test = self.tests.get(test_id)
        if test is None or attempt in test.attempts:
            return
        self.tests[test_id] = test.model_copy(update={"attempts": [*test.attempts, attempt]})

    async def overlapping(self, since: datetime, until: datetime) -> list[LiveTest]:
        found = [t for t in self.tests.values() if t.starts_at < until and t.ends_at >= since]
        return sorted(found, key=lambda t: t.starts_at)
