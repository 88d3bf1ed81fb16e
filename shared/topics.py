"""Topic names (DESIGN §3), their partition counts and idempotent creation."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

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
        """Every topic with its partition count; each gets a `.dlq` twin with one partition."""
        main = {
            self.alarms_pressed: 3,
            self.alarms_commands: 3,
            self.alarms_lifecycle: 3,
            self.alarms_command_results: 3,
            self.devices_troubles: 3,
            self.patrols_positions: 6,
            self.patrols_unit_status: 3,
            self.patrols_checkins: 3,
            self.patrols_violations: 3,
            self.patrols_guard_posts: 3,
            self.patrols_visits: 3,
            self.patrols_campaigns: 1,
            self.notifications_deliveries: 3,
            # one partition: its offsets are the feed's total order (the SSE ids)
            self.notifications_feed: 1,
            self.notifications_orders: 3,
            self.activities_recorded: 3,
        }
        return main | {self.dlq(name): 1 for name in main}


TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(bootstrap: str, topics: Topics, *, replication_factor: int = 1) -> None:
    """Create missing topics; existing ones (also when created concurrently) are left alone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="safecampus-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = topics.partitions()
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=replication_factor)
            for name, count in wanted.items()
            if name not in existing
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
        await _wait_for_leaders(admin, list(wanted))
    finally:
        await admin.close()


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
) -> None:
    """New topics are usable once every partition has a leader; consumers started earlier
    only log NotLeaderForPartition until then."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described = await admin.describe_topics(names)
        if all(
            topic.get("error_code", 0) == 0
            and topic["partitions"]
            and all(p.get("leader", -1) >= 0 for p in topic["partitions"])
            for topic in described
        ):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"topics without leaders after {timeout_s} s: {names}")
