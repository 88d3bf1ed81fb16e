"""Topics declared once, against the real broker: the plan, apply, and the start-up refusal of
a topic with fewer partitions than declared."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.settings import Settings
from shared.topics import TopicShort, ensure_topics, partition_count
from shared.topics_plan import apply, plan
from tests.conftest import KAFKA_BOOTSTRAP, Namespace


async def test_the_declared_topics_are_planned_applied_and_a_short_one_refused(
    namespace: Namespace,
) -> None:
    """Against the broker: a namespace's topics created as declared match the plan; one made
    by hand with fewer partitions and the broker's retention is found, refused at start-up,
    and made right by apply."""
    settings = Settings(kafka_bootstrap=KAFKA_BOOTSTRAP, topic_prefix=namespace.topics.prefix)
    lifecycle = namespace.topics.alarms_lifecycle
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(lifecycle, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    with pytest.raises(TopicShort, match=f"{lifecycle} has 1 partitions, declared 3"):
        await ensure_topics(KAFKA_BOOTSTRAP, namespace.topics)
    _, changes = await plan(settings)
    mine = [(c.what, c.key) for c in changes if c.topic == lifecycle]
    assert ("partitions", None) in mine and ("config", "retention.ms") in mine
    assert all(c.topic == lifecycle for c in changes), "the others were created as declared"
    await apply(settings, changes)
    assert (await plan(settings))[1] == []
    await ensure_topics(KAFKA_BOOTSTRAP, namespace.topics)  # starts now
    assert await partition_count(KAFKA_BOOTSTRAP, lifecycle) == 3
