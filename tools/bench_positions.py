"""Sustained position ingestion of one patrols instance (a benchmark, not a test).

    python -m tools.bench_positions [--seconds 20] [--clients 8] [--batch 100]

Starts patrols alone in a namespace of its own, then `--clients` unit terminals post batches
of `--batch` fixes as fast as they are answered, for `--seconds`. Reports fixes accepted (202,
on the broker) per second, and fixes stored per second end to end (HTTP → Kafka → the batch
consumer's bulk writes to history and latest positions), read from the service's own
safecampus_fixes_stored_total once the consumer has caught up. Goal (issue 4): ≥ 5000/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.auth import issue_token
from shared.provisioning import load_county
from shared.settings import Settings
from tools.bench import OUT, drop_namespace
from tools.stack import Stack

STORED = re.compile(r"^safecampus_fixes_stored_total (\S+)$", re.M)


async def stored(client: httpx.AsyncClient, url: str) -> float:
    text = (await client.get(f"{url}/metrics")).text
    match = STORED.search(text)
    return float(match.group(1)) if match else 0.0


async def terminal(
    client: httpx.AsyncClient,
    url: str,
    unit: Any,
    token: str,
    batch: int,
    until: float,
    seq: list[int],
) -> int:
    accepted = 0
    base = datetime.now(UTC) - timedelta(hours=1)
    while time.perf_counter() < until:
        seq[0] += 1
        start = base + timedelta(milliseconds=seq[0] * batch)
        fixes = [
            {
                "lat": unit.home_lat,
                "lon": unit.home_lon,
                "recorded_at": (start + timedelta(milliseconds=k)).isoformat(),
            }
            for k in range(batch)
        ]
        response = await client.post(
            f"{url}/v1/units/{unit.unit_id}/positions",
            json={"fixes": fixes},
            headers={"Authorization": f"Bearer {token}"},
        )
        accepted += batch if response.status_code == 202 else 0
    return accepted


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    county = load_county(settings.county_file)
    namespace = f"benchpos{uuid.uuid4().hex[:6]}"
    env = {
        "TOPIC_PREFIX": f"{namespace}.",
        "MONGODB_DB_PREFIX": f"{namespace}_",
        "LOG_LEVEL": "WARNING",
    }
    stack = Stack(env=env, log_dir=OUT / "logs-positions", names=("patrols",))
    stack.start()
    url = stack["patrols"].url
    try:
        async with httpx.AsyncClient(
            timeout=30, limits=httpx.Limits(max_connections=args.clients)
        ) as client:
            units = county.units[: args.clients]
            tokens = [
                issue_token(settings.require_jwt_secret(), sub=u.unit_id, role="unit")
                for u in units
            ]
            started = time.perf_counter()
            until = started + args.seconds
            counts = await asyncio.gather(
                *(
                    terminal(client, url, u, t, args.batch, until, [i * 10_000_000])
                    for i, (u, t) in enumerate(zip(units, tokens, strict=True))
                )
            )
            posting_s = time.perf_counter() - started
            accepted = sum(counts)
            deadline = posting_s + 120  # the consumer catches up, or we report what it stored
            for _ in range(int(deadline / 0.2)):
                if (
                    await stored(client, url) >= accepted
                    or time.perf_counter() - started > deadline
                ):
                    break
                await asyncio.sleep(0.2)
            end_to_end_s = time.perf_counter() - started
            total_stored = await stored(client, url)
    finally:
        stack.stop()
        await drop_namespace(settings, namespace)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": vars(args),
        "accepted": accepted,
        "accepted_per_s": round(accepted / posting_s),
        "stored": int(total_stored),
        "stored_per_s": round(total_stored / end_to_end_s),
        "catch_up_s": round(end_to_end_s - posting_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(
        f"positions, one patrols instance: {result['accepted_per_s']} fixes/s accepted (202), "
        f"{result['stored_per_s']} fixes/s stored end to end "
        f"({result['stored']} of {result['accepted']}; consumer caught up {result['catch_up_s']} s "
        f"after posting stopped); goal 5000/s"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "positions.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
