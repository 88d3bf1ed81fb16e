"""The contract of services.alarms.live_tests_repository: the fake and MongoDB alike."""

from __future__ import annotations

from datetime import timedelta

from services.alarms.live_tests import Attempt, LiveTest
from services.alarms.live_tests_repository import LiveTestRepository
from shared.events import stable_id
from tests.values import NOW

SERVICE = "live_tests"  # the repository under test (conftest.repo)


def window(name: str, start_h: float, hours: float = 2) -> LiveTest:
    start = NOW + timedelta(hours=start_h)
    return LiveTest(
        test_id=stable_id("test", name),
        school_id="S1",
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        planned_by="li",
        planned_at=NOW,
    )


async def test_a_window_is_stored_once_and_reports_join_it_once(repo: LiveTestRepository) -> None:
    first = await repo.create(window("w", 1))
    again = await repo.create(window("w", 5))
    assert again == first and again.starts_at == NOW + timedelta(hours=1)
    attempt = Attempt(device_id="D1", pressed_at=NOW + timedelta(hours=1.5), reported_by="d")
    await repo.add_attempt(first.test_id, attempt)
    await repo.add_attempt(first.test_id, attempt)
    stored = await repo.get(first.test_id)
    assert stored is not None and stored.attempts == [attempt]


async def test_windows_overlapping_a_period_earliest_first(repo: LiveTestRepository) -> None:
    for name, start_h in (("late", 30), ("before", -3), ("across", -1), ("inside", 2)):
        await repo.create(window(name, start_h))
    found = await repo.overlapping(NOW, NOW + timedelta(hours=24))
    assert [t.test_id for t in found] == [
        stable_id("test", "across"),  # began before the period, ends in it
        stable_id("test", "inside"),
    ]
