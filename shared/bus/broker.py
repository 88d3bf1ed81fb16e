"""The Kafka broker every service builds: acks=all producers, Prometheus middleware."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from shared.settings import Settings

# Producers wait for every in-sync replica (acks=all) but are not idempotent. aiokafka's
# idempotent producer can fall out of step with a restarted broker (OutOfOrderSequenceNumber)
# and then refuses every send until the process restarts (aio-libs/aiokafka#1017): the fault
# suite saw one alarms instance answer presses 202 into its journal and never forward them.
# Nothing here needs the broker to drop a retried duplicate: every event has a stable id and
# every consumer applies it once; aiokafka sends one batch per partition at a time, so a retry
# does not reorder a partition.
IDEMPOTENT_PRODUCERS = False


def make_broker(settings: Settings, *, service: str, registry: CollectorRegistry) -> KafkaBroker:
    """A FastStream Kafka broker: a producer with acks=all, Prometheus middleware.

    Building it does no I/O; `await broker.start()` connects.
    """
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"safecampus-{service}",
        acks="all",
        enable_idempotence=IDEMPOTENT_PRODUCERS,
        linger_ms=0,
        request_timeout_ms=15_000,
        graceful_timeout=15.0,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=service)],
        logger=logging.getLogger(f"faststream.{service}"),
        log_level=logging.DEBUG,  # per-message "Received/Processed" lines: too many for INFO
    )


async def warm(broker: KafkaBroker, topics: Iterable[str]) -> None:
    """Learn where the topics' partitions are now, at start-up, so that the first message
    published to each (an alarm's, as likely as not) does not wait for it.

    FastStream offers no public way to its aiokafka producer; 0.7 keeps it here. The version is
    locked, and an upgrade that moves it fails every service's start-up, in every test.
    """
    await learn_partitions(broker.config.producer._producer.producer, topics)  # type: ignore[attr-defined]


async def learn_partitions(producer: AIOKafkaProducer, topics: Iterable[str]) -> None:
    """The producer asks the cluster where each topic's partitions are, now."""
    for topic in topics:
        await producer.partitions_for(topic)
