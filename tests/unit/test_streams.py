"""The in-memory tail of a log: positions, resuming, what is kept, records appended twice."""

from __future__ import annotations

import uuid

from services.notifications.models import FeedEntry
from services.notifications.streams import FEED, ORDERS, Tail
from tests.unit.test_notifications_service import NOW, SCHOOL


def entry(n: int) -> FeedEntry:
    return FeedEntry.model_validate(
        {
            "event_id": uuid.UUID(int=n),
            "alarm_id": uuid.UUID(int=1000 + n),
            "state": "raised",
            "school": SCHOOL,
            "kind": "fire",
            "silent": False,
            "test": False,
            "location": {"building": "A", "floor": 1, "room": "1"},
            "pressed_at": NOW,
            "occurred_at": NOW,
        }
    )


def test_positions_are_offsets_plus_one_and_resuming_gives_what_came_after() -> None:
    tail = Tail(FEED)
    tail.start({0: 0}, {0: 2})
    assert not tail.caught_up.is_set()
    for offset in range(3):
        tail.add(0, offset, entry(offset))
    assert tail.caught_up.is_set() and tail.position(None) == 3
    assert [e.seq for e in tail.since(None, 1) or []] == [2, 3]
    assert tail.since(None, 3) == []


def test_a_record_appended_twice_or_read_twice_is_streamed_once() -> None:
    tail = Tail(FEED)
    tail.start({0: 0}, {})
    live = tail.subscribe(None)
    tail.add(0, 0, entry(1))
    tail.add(0, 0, entry(1))  # read again after a reconnect
    tail.add(0, 1, entry(1))  # appended again by a retried handler
    tail.add(0, 2, entry(2))
    assert [e.seq for e in tail.since(None, 0) or []] == [1, 3]
    assert [live.queue.get_nowait().seq for _ in range(2)] == [1, 3] and live.queue.empty()
    assert tail.position(None) == 3


def test_a_position_older_than_what_is_kept_is_told_apart_from_an_empty_one() -> None:
    tail = Tail(FEED, keep=2)
    tail.start({0: 5}, {})  # the log keeps offsets 5 on, or this instance started there
    assert tail.since(None, 4) is None and tail.since(None, 5) == []
    for offset in range(5, 9):
        tail.add(0, offset, entry(offset))
    assert tail.since(None, 6) is None, "offset 6 was dropped from memory"
    assert [e.seq for e in tail.since(None, 7) or []] == [8, 9]


def test_a_units_orders_are_its_own_in_its_partition() -> None:
    tail = Tail(ORDERS)
    tail.start({0: 0, 1: 0, 2: 0}, {})
    partitions = {tail.partition_of(f"unit-{i}") for i in range(30)}
    assert partitions == {0, 1, 2}, "keys spread as Kafka's default partitioner spreads them"
    assert tail.partition_of("unit-7") == tail.partition_of("unit-7")


def test_records_gone_before_they_were_read_make_older_positions_a_reset() -> None:
    tail = Tail(FEED)
    tail.start({0: 0}, {})
    tail.add(0, 0, entry(0))
    tail.add(0, 5, entry(5))  # offsets 1-4 deleted by retention while this instance was away
    assert tail.since(None, 1) is None, "what came between is unknown: a reset"
    assert [e.seq for e in tail.since(None, 5) or []] == [6]
    assert [e.seq for e in tail.kept(None)] == [1, 6], "what is kept is still shown"
