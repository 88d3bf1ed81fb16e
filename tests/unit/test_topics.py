"""Topics declared once: every topic's settings, what differs from a cluster, and the refusal
of a topic with fewer partitions than declared."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.topics import DECLARED, Topics, TopicShort, TopicSpec, refuse_short
from shared.topics_plan import Live, differences


def test_every_topic_is_declared_with_a_reason_and_a_dead_letter_twin() -> None:
    specs = Topics("t.").specs()
    main = [s for s in specs if not s.name.endswith(".dlq")]
    assert len(main) == len(DECLARED) and all(s.why for s in specs)
    assert {f"{s.name}.dlq" for s in main} == {s.name for s in specs} - {s.name for s in main}
    assert all(s.name.startswith("t.") for s in specs)
    assert Topics().partitions()["notifications.feed"] == 1, "its offsets are the feed's order"


def test_configs_say_retention_cleanup_and_two_in_sync_replicas_where_there_are_two() -> None:
    spec = TopicSpec("x", 3, timedelta(days=1))
    assert spec.configs(3) == {
        "cleanup.policy": "delete",
        "retention.ms": "86400000",
        "min.insync.replicas": "2",
    }
    assert spec.configs(1)["min.insync.replicas"] == "1"
    assert TopicSpec("y", 1, None).configs(3)["retention.ms"] == "-1"


def test_the_differences_with_a_cluster_topic_by_topic() -> None:
    specs = [TopicSpec("a", 3, timedelta(days=1)), TopicSpec("b", 3, None), TopicSpec("c", 1, None)]
    live = Live(
        partitions={"a": 3, "b": 2, "c": 4},
        configs={
            "a": specs[0].configs(1),
            "b": specs[1].configs(1) | {"retention.ms": "604800000"},
            "c": specs[2].configs(1),
        },
    )
    changes = differences(specs, live, replication=1)
    assert [(c.topic, c.what, c.live, c.declared) for c in changes] == [
        ("b", "partitions", "2", "3"),
        ("b", "config", "604800000", "-1"),
    ], "c has more partitions than declared: used as it is"
    missing = differences(specs, Live({}, {}), replication=1)
    assert [c.what for c in missing] == ["create"] * 3


def test_a_topic_with_fewer_partitions_than_declared_stops_the_start() -> None:
    specs = [TopicSpec("a", 3, None), TopicSpec("b", 1, None)]
    refuse_short(specs, {"a": 3, "b": 2})
    with pytest.raises(TopicShort, match="a has 2 partitions, declared 3"):
        refuse_short(specs, {"a": 2, "b": 1})
