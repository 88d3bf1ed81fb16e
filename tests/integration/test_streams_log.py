"""The feed log on the real broker: appended through the service's log appender, read in full
by two independent readers (two instances) into their tails, with the same positions."""

from __future__ import annotations

import asyncio

from services.notifications.streams import FEED, Tail, follow
from shared.bus.publishers import LogAppender
from shared.topics import ensure_topics, partition_count
from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.helpers import wait_for
from tests.unit.test_streams import entry


async def test_two_readers_see_the_same_positions_and_a_late_one_keeps_only_the_tail(
    namespace: Namespace,
) -> None:
    settings = namespace.settings()
    topic = namespace.topics.notifications_feed
    await ensure_topics(KAFKA_BOOTSTRAP, namespace.topics)
    assert await partition_count(KAFKA_BOOTSTRAP, topic) == 1
    publisher = LogAppender(settings, service="test")
    first, second = Tail(FEED), Tail(FEED)
    readers = [
        asyncio.create_task(follow(t, topic=topic, bootstrap=KAFKA_BOOTSTRAP, partitions=1))
        for t in (first, second)
    ]
    try:
        await asyncio.wait_for(first.caught_up.wait(), 30)
        positions = [await publisher.append(topic, "k", entry(n)) for n in range(5)]
        assert positions == [1, 2, 3, 4, 5], "offset + 1, from the broker"
        assert await publisher.append(topic, "k", entry(2)) == 6  # a retry appends it again

        async def both_read() -> bool:
            return all(t.position(None) == 6 for t in (first, second))

        await wait_for(both_read, timeout_s=30)
        for tail in (first, second):
            assert [e.seq for e in tail.since(None, 0) or []] == [1, 2, 3, 4, 5], "once"
        assert [e.event_id for e in first.kept(None)] == [e.event_id for e in second.kept(None)]
        assert [await publisher.append(topic, "k", entry(n)) for n in (5, 6)] == [7, 8]

        late = Tail(FEED, keep=2)  # an instance started now, keeping less
        readers.append(
            asyncio.create_task(follow(late, topic=topic, bootstrap=KAFKA_BOOTSTRAP, partitions=1))
        )
        await asyncio.wait_for(late.caught_up.wait(), 30)
        assert late.since(None, 1) is None, "a client from before what it keeps: a reset"
        assert [e.seq for e in late.since(None, 6) or []] == [7, 8]
        live = late.subscribe(None)
        assert await publisher.append(topic, "k", entry(9)) == 9
        arrived = await asyncio.wait_for(live.queue.get(), 10)
        assert (arrived.seq, arrived.event_id) == (9, entry(9).event_id)
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await publisher.close()
