"""`make bench`, the alarm path's availability: failover time and stream fan-out.

    python -m tools.bench_ha failover [--rounds 3] [--alarms 60] [--interval-ms 50]
    python -m tools.bench_ha fanout [--clients 1000] [--alarms 50] [--interval-ms 200]

failover: two alarms and two notifications instances. One dispatcher watches the first
notifications instance, which is SIGKILLed a third of the way through a run of presses; the
dispatcher then resumes on the other with its Last-Event-ID, as a browser does. The failover
time is the longest any alarm of the run waited to reach that dispatcher: alarms on the dead
instance's lifecycle partitions wait until the group hands them to the other instance. Each
round kills the instance the dispatcher is on, then brings it back. Alarms missing or seen
twice are counted.

fanout: one notifications instance with `--clients` dispatcher streams open at once (each gets
every entry), read by a process of their own with a minimal SSE reader (so the reader's own
parsing does not stand in for the service's). Per alarm: press → the last client to get it.
A benchmark, not a test: it asserts nothing. Writes .local/bench/ha-<scenario>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.auth import issue_token
from shared.provisioning import County, load_county
from shared.settings import DeviceSettings
from tools.bench import (
    OUT,
    bench_env,
    database_server,
    drop_namespace,
    percentiles,
    signed_press,
    start_replicas,
)
from tools.stack import ServiceProcess, Stack


async def press(
    client: httpx.AsyncClient, url: str, county: County, seed: str, i: int
) -> tuple[str, float]:
    """One signed press; the alarm's id and when it was sent (wall clock)."""
    alarm_id, body, headers = signed_press(county, seed, i)
    sent = time.time()
    response = await client.post(f"{url}/v1/alarms", content=body, headers=headers)
    response.raise_for_status()
    return alarm_id, sent


class MovingDispatcher:
    """A dispatcher's stream that resumes on the next instance after a drop."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.seen: dict[str, float] = {}  # alarm id → when its `raised` entry came
        self.twice = 0
        self.connected = asyncio.Event()
        self.expected: set[str] = set()
        self.all_seen = asyncio.Event()

    async def follow(self, client: httpx.AsyncClient, urls: list[str]) -> None:
        last: str | None = None
        for url in urls:
            headers = {"Authorization": f"Bearer {self.token}"}
            if last is not None:
                headers["Last-Event-ID"] = last
            try:
                async with client.stream(
                    "GET", f"{url}/v1/dispatcher/stream", headers=headers, timeout=None
                ) as sse:
                    self.connected.set()
                    pending: str | None = None  # an id counts once its event is complete
                    async for line in sse.aiter_lines():
                        if line.startswith("id:"):
                            pending = line[3:].strip()
                        elif line.startswith("data:"):
                            self._entry(json.loads(line[5:]))
                        elif not line and pending is not None:
                            last, pending = pending, None
            except httpx.HTTPError:
                continue  # the instance went away: on to the next

    def _entry(self, entry: dict[str, Any]) -> None:
        if entry["state"] != "raised" or entry["change"] != "transition":
            return
        if entry["alarm_id"] in self.seen:
            self.twice += 1
        self.seen.setdefault(entry["alarm_id"], time.time())
        if self.expected and self.expected <= self.seen.keys():
            self.all_seen.set()


async def failover_round(
    client: httpx.AsyncClient,
    args: argparse.Namespace,
    county: County,
    settings: DeviceSettings,
    ingress: list[str],
    doomed: ServiceProcess,
    survivor_url: str,
) -> dict[str, Any]:
    token = issue_token(settings.require_jwt_secret(), sub="bench", role="dispatcher")
    seed = settings.device_key_seed.get_secret_value() if settings.device_key_seed else ""
    dispatcher = MovingDispatcher(token)
    following = asyncio.create_task(dispatcher.follow(client, [doomed.url, survivor_url]))
    await asyncio.wait_for(dispatcher.connected.wait(), 10)
    pressed: dict[str, float] = {}
    killed_at = 0.0
    for i in range(args.alarms):
        alarm_id, sent = await press(client, ingress[i % len(ingress)], county, seed, i)
        pressed[alarm_id] = sent
        dispatcher.expected.add(alarm_id)
        if i == args.alarms // 3:
            doomed.kill()
            killed_at = time.time()
        await asyncio.sleep(args.interval_ms / 1000)
    before_kill = [a for a, sent in pressed.items() if sent < killed_at]
    dispatcher.all_seen.clear()  # it was set whenever the dispatcher had caught up so far
    if not set(pressed) <= dispatcher.seen.keys():
        try:
            await asyncio.wait_for(dispatcher.all_seen.wait(), 60)
        except TimeoutError:
            print("warning: some alarms never reached the dispatcher (counted as missing)")
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)
    had_all_before = max((dispatcher.seen.get(a, float("inf")) for a in before_kill), default=0)
    # the longest any alarm waited: those on the dead instance's partitions wait for the group
    # to hand them to the other instance
    worst = max(
        (dispatcher.seen[a] - s for a, s in pressed.items() if a in dispatcher.seen), default=0
    )
    after = [
        dispatcher.seen[a] - s
        for a, s in pressed.items()
        if s >= killed_at and a in dispatcher.seen
    ]
    return {
        "earlier_alarms_s": round(had_all_before - killed_at, 3),
        "failover_s": round(worst, 3),
        "missing": len(set(pressed) - set(dispatcher.seen)),
        "twice": dispatcher.twice,
        "after_kill_press_to_dispatcher": percentiles(after),
    }


async def run_failover(
    args: argparse.Namespace, settings: DeviceSettings, stack: Stack
) -> dict[str, Any]:
    county = load_county(settings.county_file)
    replicas = start_replicas(stack, 2)
    ingress = [stack["alarms"].url, replicas["alarms"][0].url]
    instances = [stack["notifications"], replicas["notifications"][0]]
    rounds = []
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            for n in range(args.rounds):
                doomed, survivor = instances[n % 2], instances[(n + 1) % 2]
                print(f"round {n + 1}: SIGKILL the dispatcher's instance mid-run ...", flush=True)
                rounds.append(
                    await failover_round(
                        client, args, county, settings, ingress, doomed, survivor.url
                    )
                )
                doomed.start()
                await asyncio.to_thread(doomed.wait_ready, 90)
                await asyncio.sleep(3.0)  # the group settles with it back
    finally:
        for process in (p for group in replicas.values() for p in group):
            process.stop()
    return {"rounds": rounds}


def _fanout_process(
    host: str, port: int, secret: str, clients: int, ready: Any, stop: Any, out: Any
) -> None:
    out.put(asyncio.run(_fanout_clients(host, port, secret, clients, ready, stop)))


async def _fanout_clients(
    host: str, port: int, secret: str, clients: int, ready: Any, stop: Any
) -> dict[str, list[float]]:
    """Open `clients` streams, each as a dispatcher of its own (one user holds only a few);
    per alarm, when each client got its `raised` entry."""
    got: dict[str, list[float]] = {}
    opened = 0

    async def one(n: int) -> None:
        nonlocal opened
        token = issue_token(secret, sub=f"bench-{n}", role="dispatcher")
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            f"GET /v1/dispatcher/stream HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        mine: set[bytes] = set()
        while line := await reader.readline():
            if line.startswith(b"retry:"):
                opened += 1
                if opened == clients:
                    ready.set()
            elif line.startswith(b"data:") and b'"state":"raised","school"' in line:
                at = line.find(b'"alarm_id":"') + 12
                alarm_id = line[at : at + 36]
                if alarm_id not in mine:  # its first entry to this client
                    mine.add(alarm_id)
                    got.setdefault(alarm_id.decode(), []).append(time.time())

    tasks = [asyncio.create_task(one(n)) for n in range(clients)]
    await asyncio.to_thread(stop.wait)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return got


async def run_fanout(
    args: argparse.Namespace, settings: DeviceSettings, stack: Stack
) -> dict[str, Any]:
    county = load_county(settings.county_file)
    seed = settings.device_key_seed.get_secret_value() if settings.device_key_seed else ""
    ctx = multiprocessing.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    target = stack["notifications"]
    reader = ctx.Process(
        target=_fanout_process,
        args=(
            "127.0.0.1",
            target.port,
            settings.require_jwt_secret(),
            args.clients,
            ready,
            stop,
            out,
        ),
        daemon=True,
    )
    reader.start()
    if not await asyncio.to_thread(ready.wait, 60):
        stop.set()
        raise TimeoutError(f"{args.clients} streams not open within 60 s")
    pressed: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for i in range(args.warm_up + args.alarms):
            alarm_id, sent = await press(client, stack["alarms"].url, county, seed, i)
            pressed[alarm_id] = sent
            await asyncio.sleep(args.interval_ms / 1000)
    await asyncio.sleep(5.0)  # the last entries reach every client
    stop.set()
    got: dict[str, list[float]] = await asyncio.to_thread(out.get, True, 60)
    reader.join(timeout=30)
    first = dict(list(pressed.items())[: args.warm_up])  # the instance's first: timed apart
    timed = dict(list(pressed.items())[args.warm_up :])
    to_last = [max(got[a]) - s for a, s in timed.items() if len(got.get(a, [])) == args.clients]
    to_first = [min(got[a]) - s for a, s in timed.items() if got.get(a)]
    return {
        "clients": args.clients,
        "alarms": args.alarms,
        "every_client_got_every_alarm": len(to_last) == args.alarms,
        "press_to_last_client": percentiles(to_last),
        "press_to_first_client": percentiles(to_first),
        "warm_up_to_last_client": percentiles(
            [max(got[a]) - s for a, s in first.items() if got.get(a)]
        ),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    base = DeviceSettings()
    namespace = f"benchha{uuid.uuid4().hex[:6]}"
    env = bench_env(namespace)
    database = await database_server(base.mongodb_url)
    names = ("alarms", "patrols", "notifications")
    stack = Stack(env=env, log_dir=OUT / "logs", names=names)
    stack.start()
    try:
        scenario = run_failover if args.scenario == "failover" else run_fanout
        result = await scenario(args, base, stack)
    finally:
        stack.stop()
        await drop_namespace(base, namespace)
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"), "database": database} | {
        "args": vars(args),
        args.scenario: result,
    }


def report(result: dict[str, Any]) -> str:
    lines = [f"database: {result['database']}"]
    if "failover" in result:
        for n, r in enumerate(result["failover"]["rounds"], 1):
            after = r["after_kill_press_to_dispatcher"]
            lines.append(
                f"failover round {n}: the longest an alarm waited {r['failover_s']:.2f} s; "
                f"every alarm pressed before the SIGKILL seen {r['earlier_alarms_s']:.2f} s "
                f"after it; missing {r['missing']}, twice {r['twice']}; presses after the kill "
                f"to the dispatcher p50 {after['p50']:.0f} ms, max {after['max']:.0f} ms"
            )
    if "fanout" in result:
        f = result["fanout"]
        last, first = f["press_to_last_client"], f["press_to_first_client"]
        lines.append(
            f"fan-out: {f['clients']} dispatcher streams on one instance, {f['alarms']} alarms; "
            f"every client got every alarm: {f['every_client_got_every_alarm']}"
        )
        for label, p in (("press → last client", last), ("press → first client", first)):
            lines.append(
                f"  {label:22} p50 {p['p50']:.1f}  p99 {p['p99']:.1f}  max {p['max']:.1f} ms"
            )
        cold = f["warm_up_to_last_client"]
        if cold["n"]:
            lines.append(
                f"  the {cold['n']} alarms before (the instance's first, not in the figures): "
                f"press → last client max {cold['max']:.1f} ms"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", choices=("failover", "fanout"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--alarms", type=int, default=None)
    parser.add_argument("--interval-ms", type=float, default=None)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument(
        "--warm-up", type=int, default=2, help="fan-out: alarms first, timed apart (0: none)"
    )
    args = parser.parse_args()
    fanout = args.scenario == "fanout"
    args.alarms = args.alarms or (50 if fanout else 60)
    args.interval_ms = args.interval_ms or (200.0 if fanout else 50.0)
    result = asyncio.run(main_async(args))
    print(report(result))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"ha-{args.scenario}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
