"""Topics (DESIGN §3) declared once: names, partitions, retention, cleanup and why; their
idempotent creation at start-up. `python -m shared.topics plan|apply` compares them with a
live cluster (shared/topics_plan.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

log = logging.getLogger(__name__)

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topics:
    """All topic names, optionally behind a prefix (tests and tenants use their own)."""

    prefix: str = ""

    def _name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @property
    def alarms_pressed(self) -> str:
        return self._name("alarms.pressed")

    @property
    def alarms_commands(self) -> str:
        return self._name("alarms.commands")

    @property
    def alarms_command_results(self) -> str:
        return self._name("alarms.command-results")

    @property
    def alarms_lifecycle(self) -> str:
        return self._name("alarms.lifecycle")

    @property
    def devices_troubles(self) -> str:
        """Supervised buttons' troubles and restorals, keyed by device."""
        return self._name("devices.troubles")

    @property
    def patrols_positions(self) -> str:
        return self._name("patrols.positions")

    @property
    def patrols_unit_status(self) -> str:
        return self._name("patrols.unit-status")

    @property
    def patrols_checkins(self) -> str:
        return self._name("patrols.checkins")

    @property
    def patrols_violations(self) -> str:
        return self._name("patrols.violations")

    @property
    def patrols_campaigns(self) -> str:
        return self._name("patrols.campaigns")

    @property
    def patrols_visits(self) -> str:
        return self._name("patrols.visits")

    @property
    def patrols_community_checks(self) -> str:
        """Checks of rental housing and hotels near schools (counts only), keyed by school."""
        return self._name("patrols.community-checks")

    @property
    def patrols_visibility(self) -> str:
        """Each school's rush-hour windows once ended: units seen near, minutes present."""
        return self._name("patrols.visibility")

    @property
    def patrols_gate_visits(self) -> str:
        """Visitors in and out at schools' gates (no person), keyed by school."""
        return self._name("patrols.gate-visits")

    @property
    def patrols_video_checks(self) -> str:
        """The command centre's video patrol checks, keyed by school."""
        return self._name("patrols.video-checks")

    @property
    def patrols_hazards(self) -> str:
        """Hazards around schools, each change the whole record, keyed by hazard."""
        return self._name("patrols.hazards")

    @property
    def patrols_school_plans(self) -> str:
        """Each school's plan (一校一策), a version at a time, keyed by school."""
        return self._name("patrols.school-plans")

    @property
    def patrols_guard_posts(self) -> str:
        return self._name("patrols.guard-posts")

    @property
    def activities_recorded(self) -> str:
        return self._name("activities.recorded")

    @property
    def notifications_deliveries(self) -> str:
        return self._name("notifications.deliveries")

    @property
    def notifications_feed(self) -> str:
        """The dispatcher feed as a log: every notifications instance reads all of it."""
        return self._name("notifications.feed")

    @property
    def notifications_orders(self) -> str:
        """Unit orders as a log keyed by unit: every notifications instance reads all of it."""
        return self._name("notifications.orders")

    def group(self, name: str) -> str:
        """Consumer-group id, namespaced like the topics."""
        return f"{self.prefix}{name}"

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}{DLQ_SUFFIX}"

    def partitions(self) -> dict[str, int]:
        """Every topic with its declared partition count (the `.dlq` twins too)."""
        return {spec.name: spec.partitions for spec in self.specs()}

    def specs(self) -> list[TopicSpec]:
        """Every topic as declared (DECLARED), each with its `.dlq` twin."""
        main = [replace(spec, name=self._name(spec.name)) for spec in DECLARED]
        return main + [
            TopicSpec(
                self.dlq(spec.name),
                1,
                DLQ_RETENTION,
                why="messages that could not be processed, kept until someone has looked",
            )
            for spec in main
        ]


@dataclass(frozen=True)
class TopicSpec:
    """One topic as it is meant to be: partitions, how long records are kept (None: for
    ever), its cleanup policy, and why."""

    name: str
    partitions: int
    retention: timedelta | None
    cleanup: Literal["delete", "compact"] = "delete"
    why: str = ""

    def configs(self, replication: int) -> dict[str, str]:
        """Topic-level settings; min.insync.replicas is two where there are replicas enough
        (with acks=all, a record is then on two brokers before it is acknowledged)."""
        retention_ms = -1 if self.retention is None else int(self.retention.total_seconds() * 1000)
        return {
            "cleanup.policy": self.cleanup,
            "retention.ms": str(retention_ms),
            "min.insync.replicas": str(min(2, replication)),
        }


DAY = timedelta(days=1)
DLQ_RETENTION = 90 * DAY
# Partitions: keyed topics on the alarm path have three, so three instances of a consumer group
# share the work (one partition each) while one key (school, alarm, unit) stays in order.
DECLARED: tuple[TopicSpec, ...] = (
    TopicSpec("alarms.pressed", 3, 30 * DAY, why="accepted presses, replayable for a month"),
    TopicSpec("alarms.commands", 3, 7 * DAY, why="commands are applied within seconds"),
    TopicSpec("alarms.lifecycle", 3, 30 * DAY, why="transitions: reports can be rebuilt"),
    TopicSpec("alarms.command-results", 3, 7 * DAY, why="read once by notifications"),
    TopicSpec("devices.troubles", 3, 30 * DAY, why="troubles: availability can be rebuilt"),
    TopicSpec(
        "patrols.positions", 6, DAY, why="history is in MongoDB; the busiest topic, six ways"
    ),
    TopicSpec("patrols.unit-status", 3, 7 * DAY, why="the latest status is in MongoDB"),
    TopicSpec("patrols.checkins", 3, 30 * DAY, why="reports can be rebuilt"),
    TopicSpec("patrols.violations", 3, 30 * DAY, why="reports can be rebuilt"),
    TopicSpec("patrols.guard-posts", 3, 30 * DAY, why="reports can be rebuilt"),
    TopicSpec("patrols.visits", 3, 30 * DAY, why="reports can be rebuilt"),
    TopicSpec("patrols.campaigns", 1, None, why="few, and every report of a campaign needs it"),
    TopicSpec("patrols.video-checks", 3, 30 * DAY, why="reports can be rebuilt"),
    TopicSpec("patrols.visibility", 3, None, why="police visibility: the reports can be rebuilt"),
    TopicSpec("patrols.gate-visits", 3, None, why="visits' changes, no person: reports rebuilt"),
    TopicSpec(
        "patrols.community-checks", 3, None, why="counts only, no person: reports can be rebuilt"
    ),
    TopicSpec("patrols.hazards", 3, None, why="hazards' changes: the reports can be rebuilt"),
    TopicSpec(
        "patrols.school-plans",
        3,
        None,
        cleanup="compact",
        why="each school's newest plan, kept for ever: the dispatchers' copy is rebuilt from it",
    ),
    TopicSpec("notifications.deliveries", 3, 30 * DAY, why="delivery states for the record"),
    # one partition: its offsets are the feed's total order (the SSE ids)
    TopicSpec("notifications.feed", 1, 7 * DAY, why="streams resume from it; a week"),
    TopicSpec("notifications.orders", 3, 7 * DAY, why="unit streams resume from it; a week"),
    TopicSpec("activities.recorded", 3, None, why="supervisors' records: the only copy"),
)


TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(bootstrap: str, topics: Topics, *, replication_factor: int = 1) -> None:
    """Create missing topics as declared; existing ones (also when created concurrently) are
    left alone, but one with fewer partitions than declared stops the start (TopicShort)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="safecampus-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        specs = topics.specs()
        missing = [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs=spec.configs(replication_factor),
            )
            for spec in specs
            if spec.name not in existing
        ]
        if missing:
            response = (await admin.create_topics(missing)).to_object()
            for entry in response.get("topics") or response.get("topic_errors") or []:
                code = entry.get("error_code", 0)
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    name = entry.get("name") or entry.get("topic")
                    raise RuntimeError(f"cannot create topic {name}: error {code}")
            log.info("topics created", extra={"topics": [t.name for t in missing]})
        # Also when another service created them a moment ago: wait until they are usable.
        described = await _wait_for_leaders(admin, [spec.name for spec in specs])
        refuse_short(specs, described)
    finally:
        await admin.close()


class TopicShort(RuntimeError):
    """A topic has fewer partitions than declared: keys would land where nothing reads them
    as the code expects (a log's positions, one consumer a partition)."""


def refuse_short(specs: list[TopicSpec], described: dict[str, int]) -> None:
    """Raise TopicShort naming every topic with fewer partitions than declared."""
    short = [
        f"{spec.name} has {described[spec.name]} partitions, declared {spec.partitions}"
        for spec in specs
        if described.get(spec.name, spec.partitions) < spec.partitions
    ]
    if short:
        raise TopicShort(
            "; ".join(short) + " (`python -m shared.topics apply` adds the missing ones)"
        )


async def partition_count(bootstrap: str, topic: str) -> int:
    """How many partitions `topic` has on the broker (it may be declared with more than
    `Topics.partitions` says, e.g. by an operator)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="safecampus-admin")
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described.get("error_code", 0) != 0 or not described["partitions"]:
        raise RuntimeError(f"topic {topic} not found: error {described.get('error_code')}")
    return len(described["partitions"])


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 30
) -> dict[str, int]:
    """New topics are usable once every partition has a leader; consumers started earlier
    only log NotLeaderForPartition until then. Returns each topic's partition count."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described = await admin.describe_topics(names)
        if all(
            topic.get("error_code", 0) == 0
            and topic["partitions"]
            and all(p.get("leader", -1) >= 0 for p in topic["partitions"])
            for topic in described
        ):
            return {topic["topic"]: len(topic["partitions"]) for topic in described}
        await asyncio.sleep(0.1)
    raise TimeoutError(f"topics without leaders after {timeout_s} s: {names}")


if __name__ == "__main__":
    from shared.topics_plan import main

    raise SystemExit(main())
