"""Feed and order numbers drawn ahead of need (services/notifications/sequences.py)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from services.notifications.sequences import SequencePool
from shared.bus import Afterwards, background_failures


class Counter:
    """A stored counter: every draw is the next number, after `delay` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.value = 0
        self.draws = 0
        self.delay = delay
        self.down = False

    async def draw(self, counter: str) -> int:
        self.draws += 1
        await asyncio.sleep(self.delay)
        if self.down:
            raise ConnectionError("database gone")
        self.value += 1
        return self.value


async def test_without_a_background_each_take_draws_its_own() -> None:
    stored = Counter()
    pool = SequencePool()
    assert [await pool.take("feed", stored.draw) for _ in range(3)] == [1, 2, 3]
    assert stored.draws == 3
    assert pool.ready("feed") == 0


async def test_numbers_drawn_ahead_are_taken_without_waiting_for_the_counter() -> None:
    stored = Counter(delay=0.01)
    afterwards = Afterwards("sequence-draw")
    pool = SequencePool(afterwards, ahead=2)
    assert await pool.take("feed", stored.draw) == 1  # nothing drawn yet: drawn on the path
    await pool.top_up("feed", stored.draw)
    assert pool.ready("feed") == 0, "drawn after the caller, not by it"
    await afterwards.drain()
    assert pool.ready("feed") == 2
    draws = stored.draws
    taking = asyncio.ensure_future(pool.take("feed", stored.draw))
    await asyncio.sleep(0)  # one turn of the loop: no time for a draw
    assert taking.done() and taking.result() == 2
    assert stored.draws == draws, "the take itself drew nothing"


async def test_numbers_go_out_ascending_while_draws_are_under_way() -> None:
    stored = Counter(delay=0.005)
    afterwards = Afterwards("sequence-draw")
    pool = SequencePool(afterwards, ahead=3)

    async def take_and_top_up() -> int:
        seq = await pool.take("feed", stored.draw)
        await pool.top_up("feed", stored.draw)
        return seq

    taken = list(await asyncio.gather(*(take_and_top_up() for _ in range(12))))
    taken += [await take_and_top_up() for _ in range(5)]
    await afterwards.drain()
    assert taken == sorted(taken)
    assert len(set(taken)) == len(taken)
    assert stored.value == taken[-1] + pool.ready("feed"), "none lost but those still ready"


async def test_counters_are_kept_apart() -> None:
    feed, orders = Counter(), Counter()
    afterwards = Afterwards("sequence-draw")
    pool = SequencePool(afterwards, ahead=1)
    await pool.top_up("feed", feed.draw)
    await pool.top_up("orders", orders.draw)
    await afterwards.drain()
    assert (await pool.take("feed", feed.draw), await pool.take("orders", orders.draw)) == (1, 1)
    assert (feed.draws, orders.draws) == (1, 1)


async def test_a_failed_draw_ahead_is_counted_and_the_next_take_draws_itself() -> None:
    registry = CollectorRegistry()
    stored = Counter()
    afterwards = Afterwards("sequence-draw", background_failures(registry))
    pool = SequencePool(afterwards, ahead=1)
    stored.down = True
    with pytest.raises(ConnectionError):
        await pool.take("feed", stored.draw)  # nothing ready: the failure is the caller's
    await pool.top_up("feed", stored.draw)
    await afterwards.drain()  # the draw ahead failed too
    failed = registry.get_sample_value(
        "safecampus_background_failures_total", {"job": "sequence-draw", "kind": "error"}
    )
    assert failed == 1
    assert pool.ready("feed") == 0
    stored.down = False
    assert await pool.take("feed", stored.draw) == 1
