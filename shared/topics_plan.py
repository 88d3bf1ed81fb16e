"""The declared topics (shared.topics) against a live cluster: what differs, and applying it.

    python -m shared.topics plan     the declared topics, then what differs on the cluster
    python -m shared.topics apply    create what is missing, add partitions, set the configs
    python -m shared.topics strimzi  the topics as Strimzi KafkaTopics (shared/topics_strimzi.py)

Reads KAFKA_BOOTSTRAP, TOPIC_PREFIX and KAFKA_REPLICATION_FACTOR like the services. A topic
with more partitions than declared is used as it is (an operator may have added some); fewer
is a change to apply: the services refuse to start on it. Partitions are only ever added:
keys then map to other partitions, so apply while the producers are quiet.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.settings import Settings
from shared.topics import DLQ_SUFFIX, Topics, TopicSpec
from shared.topics_strimzi import render


@dataclass(frozen=True)
class Change:
    """One difference between a declared topic and the cluster."""

    topic: str
    what: Literal["create", "partitions", "config"]
    declared: str
    live: str | None = None
    key: str | None = None

    def line(self) -> str:
        if self.what == "create":
            return f"create  {self.topic}  {self.declared}"
        if self.what == "partitions":
            return f"grow    {self.topic}  partitions {self.live} → {self.declared}"
        return f"set     {self.topic}  {self.key}: {self.live} → {self.declared}"


@dataclass(frozen=True)
class Live:
    """What the cluster has: partitions and topic configs of each topic that exists."""

    partitions: dict[str, int]
    configs: dict[str, dict[str, str]]


def differences(specs: Sequence[TopicSpec], live: Live, *, replication: int) -> list[Change]:
    """What applying the declaration would change, topic by topic."""
    changes: list[Change] = []
    for spec in specs:
        if spec.name not in live.partitions:
            declared = f"{spec.partitions} partitions, " + ", ".join(
                f"{k}={v}" for k, v in spec.configs(replication).items()
            )
            changes.append(Change(spec.name, "create", declared))
            continue
        if live.partitions[spec.name] < spec.partitions:
            changes.append(
                Change(
                    spec.name,
                    "partitions",
                    str(spec.partitions),
                    live=str(live.partitions[spec.name]),
                )
            )
        have = live.configs.get(spec.name, {})
        for key, value in spec.configs(replication).items():
            if have.get(key) != value:
                changes.append(Change(spec.name, "config", value, live=have.get(key), key=key))
    return changes


async def read_live(admin: AIOKafkaAdminClient, names: Sequence[str]) -> Live:
    existing = [name for name in names if name in set(await admin.list_topics())]
    if not existing:
        return Live({}, {})
    described = await admin.describe_topics(existing)
    partitions = {t["topic"]: len(t["partitions"]) for t in described if t["partitions"]}
    answers = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in existing]
    )
    configs: dict[str, dict[str, str]] = {}
    for answer in answers:
        for resource in answer.to_object()["resources"]:
            configs[resource["resource_name"]] = {
                entry["config_names"]: entry["config_value"] for entry in resource["config_entries"]
            }
    return Live(partitions, configs)


async def plan(settings: Settings) -> tuple[list[TopicSpec], list[Change]]:
    specs = Topics(settings.topic_prefix).specs()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        live = await read_live(admin, [spec.name for spec in specs])
    finally:
        await admin.close()
    return specs, differences(specs, live, replication=settings.kafka_replication_factor)


async def apply(settings: Settings, changes: Sequence[Change]) -> None:
    """Make the cluster as declared: create, grow, then set each changed topic's configs."""
    replication = settings.kafka_replication_factor
    specs = {spec.name: spec for spec in Topics(settings.topic_prefix).specs()}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        created = [specs[c.topic] for c in changes if c.what == "create"]
        if created:
            await admin.create_topics(
                [
                    NewTopic(
                        s.name, s.partitions, replication, topic_configs=s.configs(replication)
                    )
                    for s in created
                ]
            )
        grown = {c.topic: NewPartitions(int(c.declared)) for c in changes if c.what == "partitions"}
        if grown:
            await admin.create_partitions(grown)
        configured = sorted({c.topic for c in changes if c.what == "config"})
        if configured:
            await admin.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, name, specs[name].configs(replication))
                    for name in configured
                ]
            )
    finally:
        await admin.close()
    await _until_visible(settings, changes)


VISIBLE_WITHIN_S = 15.0


async def _until_visible(settings: Settings, changes: Sequence[Change]) -> None:
    """Return once the cluster's metadata shows the changes (a broker answers before its
    metadata has caught up), so that a plan right after apply is empty; fail loudly if not."""
    applied = {(c.topic, c.what, c.key) for c in changes}
    deadline = asyncio.get_running_loop().time() + VISIBLE_WITHIN_S
    while True:
        pending = [c for c in (await plan(settings))[1] if (c.topic, c.what, c.key) in applied]
        if not pending:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"applied, but after {VISIBLE_WITHIN_S:.0f} s still {pending}")
        await asyncio.sleep(0.2)


def declared_table(specs: Sequence[TopicSpec], replication: int) -> str:
    """One line a topic: name, partitions, retention, cleanup, and why."""
    main = [spec for spec in specs if not spec.name.endswith(DLQ_SUFFIX)]
    width = max(len(spec.name) for spec in main)
    lines = [f"{'topic':<{width}}  partitions  retention  cleanup  why"]
    for spec in main:
        kept = "forever" if spec.retention is None else f"{spec.retention.days} d"
        lines.append(
            f"{spec.name:<{width}}  {spec.partitions:>10}  {kept:>9}  {spec.cleanup:<7}  {spec.why}"
        )
    dead = next((spec for spec in specs if spec.name.endswith(DLQ_SUFFIX)), None)
    if dead is not None and dead.retention is not None:
        lines.append(
            f"each has a `{DLQ_SUFFIX}` twin: {dead.partitions} partition, "
            f"{dead.retention.days} d, {dead.why}"
        )
    lines.append(f"replication {replication}, min.insync.replicas {min(2, replication)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.topics", description=__doc__)
    parser.add_argument("command", choices=("plan", "apply", "strimzi"))
    command = parser.parse_args(argv).command
    settings = Settings()
    if command == "strimzi":
        print(render(Topics(settings.topic_prefix).specs()), end="")
        return 0
    specs, changes = asyncio.run(plan(settings))
    print(declared_table(specs, settings.kafka_replication_factor))
    print()
    if not changes:
        print(f"the cluster at {settings.kafka_bootstrap} matches the declaration")
        return 0
    print("\n".join(change.line() for change in changes))
    if command == "apply":
        asyncio.run(apply(settings, changes))
        remaining = asyncio.run(plan(settings))[1]
        print(f"applied; {len(remaining)} difference(s) left")
        return 1 if remaining else 0
    return 0
