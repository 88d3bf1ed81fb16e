"""CPU per message of the ways a service can publish fixes (a benchmark, not a test).

    python -m tools.bench_publish [--rounds 20] [--fixes 100]

Publishes `--fixes` PositionReported events per round to a scratch topic on KAFKA_BOOTSTRAP,
three ways: FastStream's `broker.publish` per message (pipelined), aiokafka's `send` per
message (what shared.bus.publishers.OwnProducer does), and one aiokafka batch. Prints the
median time to hand a round to the client (CPU on the event loop) and until every message is
acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from faststream.kafka import KafkaBroker

from shared.bus.broker import IDEMPOTENT_PRODUCERS
from shared.events import PositionReported, stable_id
from shared.settings import Settings

KEY = b"U001"
HEADERS = {"trace_id": "bench"}
Round = Callable[[list[bytes]], Awaitable[float]]


def bodies(fixes: int, offset: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(hours=1)
    return [
        PositionReported(
            event_id=stable_id("bench", str(offset + i)),
            unit_id="U001",
            lat=35.7,
            lon=105.0,
            recorded_at=start + timedelta(seconds=offset + i),
        )
        .model_dump_json()
        .encode()
        for i in range(fixes)
    ]


async def measure(name: str, rounds: int, fixes: int, publish: Round) -> None:
    handed, total = [], []
    for n in range(rounds):
        messages = bodies(fixes, n * fixes)
        started = time.perf_counter()
        handed.append(await publish(messages) - started)
        total.append(time.perf_counter() - started)
    per_message = statistics.median(handed) / fixes * 1e6
    print(
        f"{name:<28} {per_message:6.1f} µs/message handed over, "
        f"{statistics.median(total) * 1e3:6.1f} ms per {fixes} acknowledged"
    )


async def main_async(args: argparse.Namespace) -> None:
    bootstrap = Settings().kafka_bootstrap
    topic = f"bench-publish-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    broker = KafkaBroker(bootstrap, acks="all", enable_idempotence=IDEMPOTENT_PRODUCERS)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=IDEMPOTENT_PRODUCERS,
        max_batch_size=256 * 1024,
    )
    try:
        await broker.start()
        await producer.start()
        partitions = sorted(await producer.partitions_for(topic))
        partition = DefaultPartitioner()(KEY, partitions, partitions)

        async def faststream(messages: list[bytes]) -> float:
            sent = [
                await broker.publish(m, topic=topic, key=KEY, headers=HEADERS, no_confirm=True)
                for m in messages
            ]
            handed = time.perf_counter()
            await asyncio.gather(*sent)
            return handed

        async def aiokafka_send(messages: list[bytes]) -> float:
            headers = [(k, v.encode()) for k, v in HEADERS.items()]
            sent = [await producer.send(topic, m, key=KEY, headers=headers) for m in messages]
            handed = time.perf_counter()
            await asyncio.gather(*sent)
            return handed

        async def aiokafka_batch(messages: list[bytes]) -> float:
            batch = producer.create_batch()
            headers = [(k, v.encode()) for k, v in HEADERS.items()]
            for m in messages:
                if batch.append(key=KEY, value=m, timestamp=None, headers=headers) is None:
                    raise RuntimeError("batch full: lower --fixes")
            sent = await producer.send_batch(batch, topic, partition=partition)
            handed = time.perf_counter()
            await sent
            return handed

        await measure("warm-up", 3, args.fixes, faststream)
        await measure("FastStream publish", args.rounds, args.fixes, faststream)
        await measure("aiokafka send (OwnProducer)", args.rounds, args.fixes, aiokafka_send)
        await measure("aiokafka batch", args.rounds, args.fixes, aiokafka_batch)
    finally:
        await broker.stop()
        await producer.stop()
        await admin.delete_topics([topic])
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--fixes", type=int, default=100)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
