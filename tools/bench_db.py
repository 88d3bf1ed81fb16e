"""Per-operation cost of the database writes the services make (a benchmark, not a test).

    python -m tools.bench_db

Prints milliseconds per operation for: insert_many (per document), a plain upsert, an upsert on
a 2dsphere-indexed collection, a $set into a growing bucket document, and insert_one spaced by
idle gaps (which exposes wake-up latency). Uses MONGODB_URL; drops its scratch database.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import GEOSPHERE, AsyncMongoClient, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import Settings

Db = AsyncDatabase[dict[str, Any]]
UNITS = 40


async def timed(rounds: int, ops_per_round: int, call: Callable[[int], Awaitable[object]]) -> float:
    started = time.perf_counter()
    for r in range(rounds):
        await call(r)
    return (time.perf_counter() - started) / (rounds * ops_per_round) * 1000


def point() -> dict[str, Any]:
    return {
        "type": "Point",
        "coordinates": [105 + random.random() / 10, 35.6 + random.random() / 10],
    }


async def measure(db: Db) -> dict[str, float]:
    await db.geo.create_index([("loc", GEOSPHERE)])
    results = {
        "insert_many, per document": await timed(
            10,
            100,
            lambda r: db.ins.insert_many([{"u": i, "t": datetime.now(UTC)} for i in range(100)]),
        ),
        "plain upsert": await timed(
            20,
            UNITS,
            lambda r: db.plain.bulk_write(
                [
                    UpdateOne({"_id": i}, {"$set": {"t": datetime.now(UTC)}}, upsert=True)
                    for i in range(UNITS)
                ]
            ),
        ),
        "upsert, 2dsphere-indexed": await timed(
            20,
            UNITS,
            lambda r: db.geo.bulk_write(
                [
                    UpdateOne({"_id": i}, {"$set": {"loc": point()}}, upsert=True)
                    for i in range(UNITS)
                ]
            ),
        ),
        "$set into a growing bucket (to 1500 fields)": await timed(
            60,
            UNITS,
            lambda r: db.bucket.bulk_write(
                [
                    UpdateOne(
                        {"_id": i},
                        {"$set": {f"f.{r * 25 + k}": [1.0, 2.0] for k in range(25)}},
                        upsert=True,
                    )
                    for i in range(UNITS)
                ]
            ),
        ),
    }
    for gap_ms in (0, 5, 50):
        samples = []
        for r in range(60):
            t = time.perf_counter()
            await db.spaced.insert_one({"r": r})
            samples.append(time.perf_counter() - t)
            await asyncio.sleep(gap_ms / 1000)
        results[f"insert_one, {gap_ms} ms apart (median)"] = (
            sorted(samples)[len(samples) // 2] * 1000
        )
    return results


async def main_async() -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(Settings().mongodb_url)
    name = f"bench_db_{uuid.uuid4().hex[:8]}"
    try:
        for label, ms in (await measure(client[name])).items():
            print(f"{label:48} {ms:7.2f} ms")
    finally:
        await client.drop_database(name)
        await client.close()


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
