"""Consumer lag of a service's own consumer groups, as a Prometheus gauge."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Gauge


class LagMonitor:
    """safecampus_consumer_lag{group,topic}: messages on the topic not yet committed by the
    group (summed over partitions). Reads the broker's subscribers (each with `group_id` and
    `topic_names`, as FastStream's Kafka subscribers have), so it follows the code."""

    def __init__(
        self, bootstrap: str, subscriptions: Iterable[Any], registry: CollectorRegistry
    ) -> None:
        self._bootstrap = bootstrap
        self._subscriptions = subscriptions
        self._gauge = Gauge(
            "safecampus_consumer_lag",
            "Messages not yet processed (committed) by a consumer group, per topic",
            ["group", "topic"],
            registry=registry,
        )

    def _pairs(self) -> set[tuple[str, str]]:
        return {
            (sub.group_id, topic)
            for sub in self._subscriptions
            if sub.group_id
            for topic in sub.topic_names
        }

    async def measure(self) -> dict[tuple[str, str], int]:
        pairs = self._pairs()
        if not pairs:
            return {}
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id="safecampus-lag")
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, client_id="safecampus-lag")
        await admin.start()
        await consumer.start()
        try:
            return await self._measure(admin, consumer, pairs)
        finally:
            await consumer.stop()
            await admin.close()

    async def _measure(
        self, admin: Any, consumer: Any, pairs: set[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        topics = sorted({topic for _, topic in pairs})
        partitions = []
        for topic in topics:
            for p in sorted(await _partitions(consumer, topic)):
                partitions.append(TopicPartition(topic, p))
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        lags: dict[tuple[str, str], int] = {}
        for group in sorted({g for g, _ in pairs}):
            committed = await admin.list_consumer_group_offsets(group)
            for g, topic in pairs:
                if g != group:
                    continue
                lag = 0
                for tp in (tp for tp in partitions if tp.topic == topic):
                    done = (
                        committed[tp].offset
                        if tp in committed and committed[tp].offset >= 0
                        else starts[tp]
                    )
                    lag += max(0, ends[tp] - done)
                lags[(group, topic)] = lag
                self._gauge.labels(group, topic).set(lag)
        return lags


async def _partitions(consumer: Any, topic: str) -> set[int]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
    return set(found or ())
