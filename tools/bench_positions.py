"""Sustained position ingestion of one patrols instance (a benchmark, not a test).

    python -m tools.bench_positions [--rate 5000] [--seconds 20] [--clients 8] [--batch 100]

Starts patrols alone in a namespace of its own. `--clients` unit terminals post batches of
`--batch` fixes (1 Hz fixes, each terminal its own unit) on a schedule that offers `--rate`
fixes/s in all, for `--seconds`; `--rate 0` posts flat out instead (each terminal sends its
next batch as soon as the last is answered). Fixes stored are read from the service's own
safecampus_fixes_stored_total (HTTP → Kafka → the batch consumer's bulk writes).

The backlog (fixes accepted but not yet stored, from the service's own counters) is sampled
every second. The rate is sustained when every offered fix was accepted (202) and the backlog
did not build up: over the second half of the run it stayed under what arrives while a
consumer batch waits to fill (POSITION_BATCH.max_wait_ms) plus one second of processing, and it
was gone within 2 s of the last post.
Goal (issue 4): 5000 fixes/s sustained.
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
from shared.bus.subscribers import POSITION_BATCH
from shared.provisioning import load_county
from shared.settings import Settings
from tools.bench import OUT, database_server, drop_namespace
from tools.cpu import CpuMeter, infra_pids, per_unit_ms
from tools.stack import Stack

COUNTER = re.compile(r"^safecampus_fixes_(accepted|stored)_total (\S+)$", re.M)


async def counters(client: httpx.AsyncClient, url: str) -> dict[str, float]:
    """The service's fixes accepted and stored so far."""
    text = (await client.get(f"{url}/metrics")).text
    return {"accepted": 0.0, "stored": 0.0} | {k: float(v) for k, v in COUNTER.findall(text)}


async def stored(client: httpx.AsyncClient, url: str) -> float:
    return (await counters(client, url))["stored"]


async def sample_backlog(
    client: httpx.AsyncClient, url: str, until: float, samples: list[tuple[float, float]]
) -> None:
    """(seconds since start, accepted - stored) every second until `until`."""
    started = time.perf_counter()
    while time.perf_counter() < until:
        await asyncio.sleep(1.0)
        now = await counters(client, url)
        samples.append((time.perf_counter() - started, now["accepted"] - now["stored"]))


def batch_bodies(unit: Any, *, batch: int, count: int) -> list[bytes]:
    """`count` request bodies of `batch` 1 Hz fixes each, built before the clock starts so
    that the terminals' own CPU is not what is measured."""
    start = datetime.now(UTC) - timedelta(hours=12)
    return [
        json.dumps(
            {
                "fixes": [
                    {
                        "lat": unit.home_lat,
                        "lon": unit.home_lon,
                        "recorded_at": (start + timedelta(seconds=n * batch + k)).isoformat(),
                    }
                    for k in range(batch)
                ]
            }
        ).encode()
        for n in range(count)
    ]


async def terminal(
    client: httpx.AsyncClient,
    url: str,
    unit: Any,
    token: str,
    *,
    bodies: list[bytes],
    batch: int,
    every_s: float,
    until: float,
) -> tuple[int, int]:
    """Post `bodies` for one unit until `until`, one every `every_s` (0: as fast as answered);
    a terminal that fell behind its schedule posts at once. Returns (accepted, refused)."""
    accepted = refused = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    due = time.perf_counter()
    for body in bodies:
        if due >= until:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        response = await client.post(
            f"{url}/v1/units/{unit.unit_id}/positions", content=body, headers=headers
        )
        if response.status_code == 202:
            accepted += batch
        else:
            refused += batch
        due = due + every_s if every_s else time.perf_counter()
    else:
        raise RuntimeError("the terminal ran out of prepared batches; raise their count")
    return accepted, refused


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    county = load_county(settings.county_file)
    namespace = f"benchpos{uuid.uuid4().hex[:6]}"
    env = {
        "TOPIC_PREFIX": f"{namespace}.",
        "MONGODB_DB_PREFIX": f"{namespace}_",
        "LOG_LEVEL": "WARNING",
    }
    database = await database_server(settings.mongodb_url)
    print(f"database: {database}", flush=True)
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
            every_s = args.batch * args.clients / args.rate if args.rate else 0.0
            # Enough prepared batches for the schedule, or for 20 000 fixes/s when flat out.
            per_client = (
                args.seconds / every_s
                if every_s
                else args.seconds * 20_000 / args.batch / args.clients
            )
            bodies = [batch_bodies(u, batch=args.batch, count=int(per_client) + 10) for u in units]
            meter = CpuMeter(lambda: {"patrols": [stack["patrols"].pid], **infra_pids()})
            meter.start()
            started = time.perf_counter()
            until = started + args.seconds
            samples: list[tuple[float, float]] = []
            sampler = asyncio.create_task(sample_backlog(client, url, until, samples))
            counts = await asyncio.gather(
                *(
                    terminal(
                        client,
                        url,
                        u,
                        t,
                        bodies=b,
                        batch=args.batch,
                        every_s=every_s,
                        until=until,
                    )
                    for u, t, b in zip(units, tokens, bodies, strict=True)
                )
            )
            posting_s = time.perf_counter() - started
            stored_while_posting = await stored(client, url)
            await sampler
            accepted = sum(a for a, _ in counts)
            refused = sum(r for _, r in counts)
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
            cpu = meter.stop()
    finally:
        stack.stop()
        await drop_namespace(settings, namespace)
    max_late_backlog = max((b for t, b in samples if t >= args.seconds / 2), default=0.0)
    return {
        "database": database,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": vars(args),
        "accepted": accepted,
        "refused": refused,
        "accepted_per_s": round(accepted / posting_s),
        "stored": int(total_stored),
        "stored_while_posting_per_s": round(stored_while_posting / posting_s),
        "stored_per_s": round(total_stored / end_to_end_s),
        "backlog_each_s": [int(b) for _, b in samples],
        "backlog_at_end": int(accepted - stored_while_posting),
        "catch_up_s": round(end_to_end_s - posting_s, 1),
        "cpu_s": cpu,
        "cpu_ms_per_fix": per_unit_ms(cpu, total_stored),
        "sustained": (
            bool(args.rate)
            and accepted >= 0.98 * args.rate * args.seconds
            and max_late_backlog <= args.rate * (POSITION_BATCH.max_wait_ms / 1000 + 1)
            and end_to_end_s - posting_s <= 2.0
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=5000, help="fixes/s offered; 0: flat out")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    offered = f"{args.rate:g} fixes/s offered" if args.rate else "flat out"
    verdict = "SUSTAINED" if result["sustained"] else "not sustained"
    print(
        f"positions, one patrols instance, {offered}: {result['accepted_per_s']} fixes/s "
        f"accepted (202), {result['stored_while_posting_per_s']} fixes/s stored while posting; "
        f"backlog each second {result['backlog_each_s']}, gone {result['catch_up_s']} s after "
        "the last post; "
        f"{verdict} (goal: 5000 fixes/s sustained)"
    )
    print(f"CPU per fix stored, ms: {result['cpu_ms_per_fix']}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "positions.json").write_text(json.dumps(result, indent=2))
    if result["refused"]:
        raise SystemExit(f"{result['refused']} fixes were refused: the figures above are invalid")


if __name__ == "__main__":
    main()
