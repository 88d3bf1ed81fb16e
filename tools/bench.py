"""`make bench`: latency of the alarm path on the embedded default, beside its floor.

    python -m tools.bench [--alarms 300] [--interval-ms 50] [--fixes-per-s 0] [--ack-after-s 2]

Starts the four services in a namespace of their own (each press raises an alarm of its own:
FOLD_WINDOW_S=0), places every unit and opens its order stream, then presses `--alarms`
buttons one after another and times press → dispatcher stream (SSE), press → the first unit's
order (SSE), and press → 202. Units acknowledge their orders `--ack-after-s` later.
The floor is measured in the same run on the same servers: a bare aiokafka produce→consume
round trip (acks=all) and a bare MongoDB insert. Optional background load: `--fixes-per-s`,
from a process of its own at a lower CPU priority (the units' phones), which also times a
bare MongoDB insert every 50 ms while the presses run ("MongoDB insert during the run").
Each service's event-loop lag during the presses comes from its
`safecampus_event_loop_lag_seconds` (scraped before and after): the share of 100 ms timers that
ran more than 10 and 50 ms late. How fast the machine itself ran: tools/speed_probe.py, in a
process of its own. Prints a table and writes .local/bench/latest.json.
A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pymongo import AsyncMongoClient

from shared.auth import issue_token
from shared.bus.broker import IDEMPOTENT_PRODUCERS
from shared.events import stable_id
from shared.provisioning import County, load_county
from shared.settings import ROOT, DeviceSettings, Settings
from shared.signing import derive_device_secret, device_headers
from shared.topics import Topics
from tools.cpu import CpuMeter, infra_pids, per_unit_ms
from tools.http_load import KeepAliveConnection
from tools.speed_probe import SLOWED, SpeedProbe, slowed_pct
from tools.sse import stream_data
from tools.stack import SERVICES, ServiceProcess, Stack

OUT = ROOT / ".local" / "bench"
# What one press waits for on the way to the dispatcher stream, counted from the code:
# Kafka hops alarms.pressed, alarms.lifecycle and notifications.feed (the log every
# notifications instance streams from); database round trips one after the other (those made
# at once count once): ingress (signature and press record), the raise (earlier handling and
# the school's open alarm; the insert), notifications (the feed entry, beside the first unit's
# order).
PATH_KAFKA_HOPS = 3
PATH_DB_ROUND_TRIPS = 4


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max in milliseconds (nearest-rank)."""
    ordered = sorted(samples_s)
    if not ordered:
        return dict.fromkeys(("p50", "p90", "p99", "p99.9", "max", "mean"), math.nan) | {"n": 0}

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    return {
        "n": len(ordered),
        "p50": rank(50),
        "p90": rank(90),
        "p99": rank(99),
        "p99.9": rank(99.9),
        "max": ordered[-1] * 1000,
        "mean": statistics.fmean(ordered) * 1000,
    }


async def kafka_round_trip(bootstrap: str, n: int, pace_s: float) -> list[float]:
    """Bare aiokafka: produce (acks=all, idempotent) → consume, one message every pace_s."""
    topic = f"bench-floor-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=IDEMPOTENT_PRODUCERS
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=5)
    await producer.start()
    await consumer.start()
    samples: list[float] = []
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        for i in range(n + 10):
            started = time.perf_counter()
            await producer.send_and_wait(topic, f"{i}".encode())
            await consumer.getone()
            if i >= 10:  # warm-up
                samples.append(time.perf_counter() - started)
            await asyncio.sleep(pace_s)
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.delete_topics([topic])
        await admin.close()
    return samples


async def mongo_insert(
    url: str, n: int | None, pace_s: float, *, stop: Any = None, warm_up: int = 10
) -> list[float]:
    """Bare insert_one, one every pace_s (paced like the presses: idle gaps cost time too):
    `n` of them after `warm_up`, or until `stop` is set."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    db_name = f"bench_floor_{uuid.uuid4().hex[:8]}"
    samples: list[float] = []
    try:
        collection = client[db_name]["floor"]
        i = 0
        while (stop is None or not stop.is_set()) and (n is None or i < n + warm_up):
            started = time.perf_counter()
            await collection.insert_one({"i": i, "at": datetime.now(UTC)})
            if i >= warm_up:
                samples.append(time.perf_counter() - started)
            i += 1
            await asyncio.sleep(pace_s)
    finally:
        await client.drop_database(db_name)
        await client.close()
    return samples


async def database_server(url: str) -> str:
    """What serves `url`, for the record: numbers on SecantusDB's Python and Rust servers and
    on mongod differ several-fold (docs/benchmarks.md)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        info = await client.admin.command("buildInfo")
    finally:
        await client.close()
    return describe_server(info)


async def broker_flush(bootstrap: str) -> str:
    """How the broker makes a message durable before acknowledging it, for the record: an
    fsync of each (the embedded default, KAFKA_FSYNC_EACH=1) or the OS's own flushing (Kafka's
    default; replicated brokers rely on their replicas)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="safecampus-bench")
    await admin.start()
    try:
        (answer,) = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
    finally:
        await admin.close()
    entries = {
        entry["config_names"]: entry["config_value"]
        for resource in answer.to_object()["resources"]
        for entry in resource["config_entries"]
    }
    every = int(entries.get("log.flush.interval.messages") or 2**63 - 1)
    return "fsync of each message" if every == 1 else "the OS flushes (Kafka's default)"


def describe_server(info: dict[str, Any]) -> str:
    """SecantusDB's Python server reports versions like 0.7.0b3, its Rust server 0.5.3-beta.N."""
    secantus = info.get("secantusVersion")
    if secantus is None:
        return f"MongoDB {info.get('version', '?')}"
    server = "Rust" if "-beta" in str(secantus) else "Python"
    return f"SecantusDB {secantus} ({server} server, speaks MongoDB {info.get('version', '?')})"


MAX_IN_FLIGHT = 32  # background position requests under way at once
LOAD_WARM_UP_S = 2.0  # background load flowing this long before the first press


async def background_fixes(
    patrols_url: str, jwt_secret: str, per_s: int, stop: Any, flowing: Any
) -> tuple[int, float]:
    """Keep `per_s` fixes a second flowing in batches of 10 per unit request, open loop: each
    request leaves on its schedule whether or not the earlier ones were answered (at most
    MAX_IN_FLIGHT at once), as terminals out in the county would. Waiting for each answer
    before the next request (until session 11) let a slow patrols lower the load itself:
    runs then reached 650-960 fixes/s instead of 1000. The requests go through
    tools.http_load (keep-alive, a fraction of httpx's CPU: the terminals are not on this
    machine in the county). Sets `flowing` once the first request is accepted; returns the
    fixes accepted and the seconds from the first request to the last answer."""
    county = load_county(DeviceSettings().county_file)
    units = county.units
    tokens = {u.unit_id: issue_token(jwt_secret, sub=u.unit_id, role="unit") for u in units}
    sent = 0
    batch = 10
    interval = batch / per_s
    in_flight: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []
    idle: asyncio.Queue[KeepAliveConnection] = asyncio.Queue()  # a request waits for one
    for _ in range(MAX_IN_FLIGHT):
        idle.put_nowait(KeepAliveConnection(patrols_url))

    def finished(task: asyncio.Task[None]) -> None:
        in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            failures.append(task.exception())  # type: ignore[arg-type]

    async def post(connection: KeepAliveConnection, unit_id: str, body: bytes) -> None:
        nonlocal sent
        try:
            status, answer = await connection.post(
                f"/v1/units/{unit_id}/positions",
                body,
                {"Authorization": f"Bearer {tokens[unit_id]}"},
            )
        finally:
            idle.put_nowait(connection)
        if status != 202:
            raise RuntimeError(f"patrols answered {status}: {answer[:200]!r}")
        sent += batch
        flowing.set()

    i = 0
    began = next_at = time.perf_counter()
    while not stop.is_set():
        unit = units[i % len(units)]
        i += 1
        base = time.time() - 1
        fixes = [
            {
                "lat": unit.home_lat,
                "lon": unit.home_lon,
                "recorded_at": datetime.fromtimestamp(base - k * 0.001 + i * 1e-6, UTC).isoformat(),
            }
            for k in range(batch)
        ]
        connection = await idle.get()
        body = json.dumps({"fixes": fixes}).encode()
        task = asyncio.create_task(post(connection, unit.unit_id, body))
        in_flight.add(task)
        task.add_done_callback(finished)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    await asyncio.gather(*in_flight, return_exceptions=True)
    while not idle.empty():
        await idle.get_nowait().close()
    if failures:  # a refused or failed request fails the run
        raise RuntimeError(f"{len(failures)} position requests failed") from failures[0]
    return sent, time.perf_counter() - began


async def _load(
    patrols_url: str, mongodb_url: str, jwt_secret: str, per_s: int, stop: Any, flowing: Any
) -> Any:
    return await asyncio.gather(
        background_fixes(patrols_url, jwt_secret, per_s, stop, flowing),
        # the database's own latency under the same load, to read the path's figures by
        mongo_insert(mongodb_url, None, 0.05, stop=stop, warm_up=0),
    )


def _load_process(
    patrols_url: str,
    mongodb_url: str,
    jwt_secret: str,
    per_s: int,
    stop: Any,
    flowing: Any,
    out: Any,
) -> None:
    os.nice(10)  # the units' phones, elsewhere in life: here they yield to what is timed
    (sent, seconds), probe = asyncio.run(
        _load(patrols_url, mongodb_url, jwt_secret, per_s, stop, flowing)
    )
    out.put((sent, seconds, probe))


class BackgroundLoad:
    """The background fixes from a process of their own: on the bench's own event loop they
    would delay the very streams it times."""

    def __init__(self, patrols_url: str, settings: DeviceSettings, per_s: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._flowing = ctx.Event()
        self._out = ctx.Queue()
        args = (patrols_url, settings.mongodb_url, settings.require_jwt_secret(), per_s)
        self._process = ctx.Process(
            target=_load_process, args=(*args, self._stop, self._flowing, self._out), daemon=True
        )

    def start(self, *, timeout_s: float = 60) -> None:
        """Start the load and return once it flows: presses timed before that would have
        none in their background (the process takes about a second to start)."""
        self._process.start()
        if not self._flowing.wait(timeout_s):
            self._stop.set()
            raise TimeoutError(f"no position request accepted within {timeout_s} s")

    def stop(self) -> tuple[float, list[float]]:
        """Fixes accepted per second, and the database probe's samples (seconds)."""
        self._stop.set()
        sent, seconds, probe = self._out.get(timeout=60)
        self._process.join(timeout=30)
        return sent / seconds, list(probe)


def signed_press(county: County, seed: str, i: int) -> tuple[str, bytes, dict[str, str]]:
    """The i-th press of a run (the county's buttons in turn), signed as its device signs:
    the alarm id it will raise, the body and the headers."""
    device = county.devices[i % len(county.devices)]
    press_id = uuid.uuid4()
    body = json.dumps(
        {
            "press_id": str(press_id),
            "school_id": device.school_id,
            "device_id": device.device_id,
            "kind": "intrusion",
            "silent": True,
            "test": False,
            "location": {"building": "A", "floor": 1, "room": "101"},
            "pressed_at": datetime.now(UTC).isoformat(),
        }
    ).encode()
    headers = device_headers(derive_device_secret(seed, device.device_id), device.device_id, body)
    return str(stable_id("alarm", str(press_id))), body, headers


class PathBench:
    """Presses through the running stack, timed until they appear on the dispatcher stream.
    With several instances of alarms and notifications, presses go to each alarms instance in
    turn, the dispatcher watches the first notifications instance and the units' streams are
    spread over all of them."""

    def __init__(
        self, stack: Stack, county: County, jwt_secret: str, seed: str, replicas: Replicas
    ) -> None:
        self.stack = stack
        self.alarms_urls = [stack["alarms"].url, *(r.url for r in replicas.get("alarms", []))]
        self.notifications_urls = [
            stack["notifications"].url,
            *(r.url for r in replicas.get("notifications", [])),
        ]
        self.county = county
        self.jwt_secret = jwt_secret
        self.seed = seed
        self.sent: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        # wall clock (one machine, one clock): when pressed, raised by alarms, seen on the stream
        self.sent_wall: dict[str, float] = {}
        self.raised_wall: dict[str, float] = {}
        self.seen_wall: dict[str, float] = {}
        self.unit_seen: dict[str, float] = {}
        self.acks: list[asyncio.Task[None]] = []
        self.all_seen = asyncio.Event()
        self.expected = 0

    async def place_units(self, client: httpx.AsyncClient) -> None:
        now = datetime.now(UTC).isoformat()
        for unit in self.county.units:
            token = issue_token(self.jwt_secret, sub=unit.unit_id, role="unit")
            response = await client.post(
                f"{self.stack['patrols'].url}/v1/units/{unit.unit_id}/positions",
                json={"fixes": [{"lat": unit.home_lat, "lon": unit.home_lon, "recorded_at": now}]},
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()

    async def until_on_board(self, client: httpx.AsyncClient, *, timeout_s: float) -> None:
        """Every unit on notifications' board (what it ranks from) before the first press."""
        token = issue_token(self.jwt_secret, sub="bench", role="dispatcher")
        wanted = {u.unit_id for u in self.county.units}
        deadline = time.monotonic() + timeout_s
        for base in self.notifications_urls:  # each instance ranks from its own board
            while time.monotonic() < deadline:
                response = await client.get(
                    f"{base}/v1/dispatcher/map", headers={"Authorization": f"Bearer {token}"}
                )
                have = response.json()["units"] if response.status_code == 200 else []
                if wanted <= {u["unit_id"] for u in have}:
                    break
                await asyncio.sleep(0.2)
            else:
                raise TimeoutError(f"units not on the board of {base} after {timeout_s} s")

    async def watch(self, client: httpx.AsyncClient) -> None:
        token = issue_token(self.jwt_secret, sub="bench", role="dispatcher")
        url = f"{self.notifications_urls[0]}/v1/dispatcher/stream"
        async for data in stream_data(client, url, token):
            entry = json.loads(data)
            alarm_id = entry["alarm_id"]
            if alarm_id not in self.sent:  # a warm-up alarm's later entries
                continue
            if alarm_id not in self.seen:
                self.seen_wall[alarm_id] = time.time()
                raised_at = datetime.fromisoformat(entry["occurred_at"])
                self.raised_wall[alarm_id] = raised_at.timestamp()
            self.seen.setdefault(alarm_id, time.perf_counter())
            if len(self.seen) >= self.expected:
                self.all_seen.set()

    async def watch_unit(
        self, client: httpx.AsyncClient, unit_id: str, ack_after_s: float, base_url: str
    ) -> None:
        """A unit terminal's order stream: when each alarm's first order reached a unit. The
        terminal acknowledges each order `ack_after_s` later, as a crew would (a negative
        value: never, so that every order is passed over)."""
        token = issue_token(self.jwt_secret, sub=unit_id, role="unit")
        headers = {"Authorization": f"Bearer {token}"}
        base = f"{base_url}/v1/units/{unit_id}/orders"

        async def acknowledge(order_id: str) -> None:
            await asyncio.sleep(ack_after_s)
            await client.post(f"{base}/{order_id}/ack", headers=headers)

        async with client.stream("GET", f"{base}/stream", headers=headers, timeout=None) as sse:
            async for line in sse.aiter_lines():
                if line.startswith("data:"):
                    order = json.loads(line[5:])
                    if order["alarm_id"] in self.sent:
                        self.unit_seen.setdefault(order["alarm_id"], time.perf_counter())
                    if ack_after_s >= 0:
                        self.acks.append(asyncio.create_task(acknowledge(order["order_id"])))

    def unit_latencies(self) -> list[float]:
        return [self.unit_seen[a] - t for a, t in self.sent.items() if a in self.unit_seen]

    def reset(self) -> None:
        """Forget the presses so far (the warm-up's): the figures count those after."""
        for timed in (self.sent, self.seen, self.sent_wall, self.raised_wall, self.seen_wall):
            timed.clear()
        self.unit_seen.clear()
        self.all_seen = asyncio.Event()

    async def press_all(
        self, client: httpx.AsyncClient, n: int, interval_s: float, *, first: int = 0
    ) -> list[float]:
        self.expected = n
        ingress: list[float] = []
        for i in range(first, first + n):
            alarm_id, body, headers = signed_press(self.county, self.seed, i)
            started = time.perf_counter()
            self.sent[alarm_id] = started
            self.sent_wall[alarm_id] = time.time()
            ingress_url = self.alarms_urls[i % len(self.alarms_urls)]
            response = await client.post(f"{ingress_url}/v1/alarms", content=body, headers=headers)
            response.raise_for_status()
            ingress.append(time.perf_counter() - started)
            await asyncio.sleep(interval_s)
        return ingress

    def latencies(self) -> list[float]:
        return [self.seen[a] - t for a, t in self.sent.items() if a in self.seen]

    def slowest(self, n: int = 10) -> list[dict[str, float]]:
        """The n slowest alarms to the dispatcher: when pressed (s into the run), and each stage
        in ms; for latest.json, to see whether the slow ones cluster in time."""
        start = min(self.sent_wall.values(), default=0.0)
        rows = [
            {
                "pressed_s": round(self.sent_wall[a] - start, 3),
                "press_to_raised_ms": round(1000 * (self.raised_wall[a] - self.sent_wall[a]), 1),
                "raised_to_dispatcher_ms": round(
                    1000 * (self.seen_wall[a] - self.raised_wall[a]), 1
                ),
            }
            for a in self.sent_wall
            if a in self.raised_wall
        ]
        return sorted(
            rows, key=lambda r: -(r["press_to_raised_ms"] + r["raised_to_dispatcher_ms"])
        )[:n]

    def stages(self) -> dict[str, list[float]]:
        """Where the time goes: press → raised (the alarms service: ingress, alarms.pressed,
        the raise) and raised → dispatcher stream (alarms.lifecycle, notifications)."""
        seen = [a for a in self.sent_wall if a in self.raised_wall]
        return {
            "press_to_raised": [self.raised_wall[a] - self.sent_wall[a] for a in seen],
            "raised_to_dispatcher": [self.seen_wall[a] - self.raised_wall[a] for a in seen],
        }


async def run_path(
    args: argparse.Namespace, settings: DeviceSettings, stack: Stack, replicas: Replicas
) -> dict[str, Any]:
    county = load_county(settings.county_file)
    seed = settings.device_key_seed.get_secret_value() if settings.device_key_seed else ""
    bench = PathBench(stack, county, settings.require_jwt_secret(), seed, replicas)
    streams = len(county.units) + 1
    limits = httpx.Limits(max_connections=streams + 20)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await bench.place_units(client)
        await bench.until_on_board(client, timeout_s=60)
        watcher = asyncio.create_task(bench.watch(client))
        urls = bench.notifications_urls
        unit_watchers = [
            asyncio.create_task(
                bench.watch_unit(client, unit.unit_id, args.ack_after_s, urls[i % len(urls)])
            )
            for i, unit in enumerate(county.units)
        ]
        await asyncio.sleep(0.5)
        cold = await warm_up(bench, client, args)
        quiet = await quiet_cpu(stack, replicas)
        metrics_before = await scrape(client, stack)
        speed = SpeedProbe()
        speed.start()
        load = BackgroundLoad(stack["patrols"].url, settings, args.fixes_per_s)
        if args.fixes_per_s:
            await asyncio.to_thread(load.start)
            await asyncio.sleep(LOAD_WARM_UP_S)  # the consumers under steady load
        meter = CpuMeter(lambda: processes(stack, replicas))
        meter.start()
        started = time.perf_counter()
        ingress = await bench.press_all(
            client, args.alarms, args.interval_ms / 1000, first=args.warm_up
        )
        try:
            await asyncio.wait_for(bench.all_seen.wait(), timeout=60)
        except TimeoutError:
            print(f"warning: {args.alarms - len(bench.seen)} alarms not seen within 60 s")
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
        fixes_per_s, probe = await asyncio.to_thread(load.stop) if args.fixes_per_s else (0.0, [])
        work = await asyncio.to_thread(speed.stop)
        machine = percentiles(work) | {"slowed_pct": slowed_pct(work)}
        await asyncio.sleep(1.0)  # the last orders
        metrics_after = await scrape(client, stack)
        for task in (watcher, *unit_watchers, *bench.acks):
            task.cancel()
        await asyncio.gather(watcher, *unit_watchers, *bench.acks, return_exceptions=True)
    return {
        "press_to_dispatcher": percentiles(bench.latencies()),
        "press_to_unit": percentiles(bench.unit_latencies()),
        "press_to_202": percentiles(ingress),
        **{name: percentiles(samples) for name, samples in bench.stages().items()},
        "background_fixes_per_s": round(fixes_per_s, 1),
        "mongo_insert_under_load": percentiles(probe),
        "machine_speed": machine,
        "missing": args.alarms - len(bench.seen),
        "event_loop_lag": loop_lag_during(metrics_before, metrics_after),
        "handlers": handlers_during(metrics_before, metrics_after, elapsed),
        "gc": gc_during(metrics_before, metrics_after),
        "slowest": bench.slowest(),
        "elapsed_s": round(elapsed, 2),
        "cold": cold,
        "cpu_s": cpu,
        "cpu_ms_per_press": per_unit_ms(cpu, args.alarms),
        "cpu_quiet_cores": quiet,
        "cpu_ms_per_press_beyond_quiet": per_unit_ms(
            {name: cpu[name] - quiet[name] * elapsed for name in cpu}, args.alarms
        ),
    }


async def warm_up(
    bench: PathBench, client: httpx.AsyncClient, args: argparse.Namespace
) -> dict[str, Any]:
    """The first presses after start-up, timed apart: each process's first alarm pays for
    what it does once in its life (first requests, first queries); the figures are of a
    service that has handled one."""
    if not args.warm_up:
        return {}
    await bench.press_all(client, args.warm_up, args.interval_ms / 1000)
    try:
        await asyncio.wait_for(bench.all_seen.wait(), timeout=60)
    except TimeoutError:
        print(f"warning: {args.warm_up - len(bench.seen)} warm-up alarms not seen within 60 s")
    cold = {
        "press_to_dispatcher": percentiles(bench.latencies()),
        "press_to_unit": percentiles(bench.unit_latencies()),
    }
    bench.reset()
    return cold


QUIET_S = 10.0


async def quiet_cpu(stack: Stack, replicas: Replicas) -> dict[str, float]:
    """Cores each process group uses with nothing to do (timers, polls, rounds), measured over
    QUIET_S before the presses: what a press costs is what the run used beyond it."""
    meter = CpuMeter(lambda: processes(stack, replicas))
    meter.start()
    await asyncio.sleep(QUIET_S)
    return {name: round(seconds / QUIET_S, 4) for name, seconds in meter.stop().items()}


def processes(stack: Stack, replicas: Replicas) -> dict[str, list[int]]:
    """The pids of every instance of each service, of the broker and of the database."""
    services = {
        name: [stack[name].pid, *(p.pid for p in replicas.get(name, []))] for name in SERVICES
    }
    return services | infra_pids()


LAG = "safecampus_event_loop_lag_seconds_bucket"
GC = "safecampus_gc_pause_seconds"
HANDLED = "faststream_received_processed_messages_duration_seconds"
Samples = dict[tuple[str, str], float]  # (metric name, its labels as written) → value


async def scrape(client: httpx.AsyncClient, stack: Stack) -> dict[str, Samples]:
    """Each service's /metrics, the samples the bench reads (loop lag, handler durations)."""
    found: dict[str, Samples] = {}
    for name in SERVICES:
        text = (await client.get(f"{stack[name].url}/metrics")).text
        samples: Samples = {}
        for line in text.splitlines():
            if line.startswith((LAG, HANDLED, GC)):
                metric, _, rest = line.partition("{")
                labels, _, value = rest.rpartition("} ")
                samples[(metric, labels)] = float(value)
        found[name] = samples
    return found


def _label(labels: str, name: str) -> str:
    return labels.split(f'{name}="', 1)[1].split('"', 1)[0] if f'{name}="' in labels else ""


def loop_lag_during(before: dict[str, Samples], after: dict[str, Samples]) -> dict[str, Any]:
    """Per service: timers observed during the run and the share late by more than 10, 50 ms."""
    shares = {}
    for name, samples in after.items():
        buckets = {
            _label(labels, "le"): value - before[name].get((metric, labels), 0.0)
            for (metric, labels), value in samples.items()
            if metric == LAG
        }
        count = buckets.get("+Inf", 0.0)
        shares[name] = {
            "timers": count,
            "over_10ms_pct": 100 * (count - buckets.get("0.01", 0.0)) / count if count else 0.0,
            "over_50ms_pct": 100 * (count - buckets.get("0.05", 0.0)) / count if count else 0.0,
        }
    return shares


def gc_during(before: dict[str, Samples], after: dict[str, Samples]) -> dict[str, Any]:
    """Per service and generation: garbage collections during the run, their total pause
    and how many paused the process more than 10 ms."""
    found: dict[str, Any] = {}
    for name, samples in after.items():
        for (metric, labels), value in samples.items():
            if metric != f"{GC}_count":
                continue
            count = value - before[name].get((metric, labels), 0.0)
            if not count:
                continue
            total = samples[(f"{GC}_sum", labels)] - before[name].get((f"{GC}_sum", labels), 0.0)
            generation = _label(labels, "generation")
            under = f'{labels},le="0.01"' if labels else 'le="0.01"'
            quick = samples.get((f"{GC}_bucket", under), 0.0) - before[name].get(
                (f"{GC}_bucket", under), 0.0
            )
            found[f"{name} gen{generation}"] = {
                "pauses": count,
                "total_ms": 1000 * total,
                "over_10ms": count - quick,
            }
    return found


def handlers_during(
    before: dict[str, Samples], after: dict[str, Samples], elapsed_s: float
) -> dict[str, Any]:
    """Per Kafka handler: messages (or batches) handled during the run, the mean time one
    took, and how busy the handler was (a handler takes one message at a time per consumer:
    near 100 % per consumer, what arrives waits)."""
    found = {}
    for name, samples in after.items():
        for (metric, labels), value in samples.items():
            if metric != f"{HANDLED}_sum":
                continue
            spent = value - before[name].get((metric, labels), 0.0)
            count_key = (f"{HANDLED}_count", labels)
            count = samples.get(count_key, 0.0) - before[name].get(count_key, 0.0)
            if count:
                found[f"{name} {_label(labels, 'handler')}"] = {
                    "handled": count,
                    "mean_ms": 1000 * spent / count,
                    "busy_pct": 100 * spent / elapsed_s,
                }
    return found


def table(result: dict[str, Any]) -> str:
    rows = [
        ("press → dispatcher stream", result["path"]["press_to_dispatcher"]),
        ("press → first unit's order", result["path"]["press_to_unit"]),
        ("press → 202 (ingress)", result["path"]["press_to_202"]),
        ("  press → raised (alarms)", result["path"]["press_to_raised"]),
        ("  raised → dispatcher (notif.)", result["path"]["raised_to_dispatcher"]),
        ("floor: Kafka produce→consume", result["floor"]["kafka_round_trip"]),
        ("floor: MongoDB insert", result["floor"]["mongo_insert"]),
    ]
    if result["path"]["mongo_insert_under_load"]["n"]:
        rows.append(("MongoDB insert during the run", result["path"]["mongo_insert_under_load"]))
    lines = [
        f"database: {result['database']}",
        f"broker: {result.get('broker_flush', 'not recorded')}",
        f"instances of alarms and notifications: {result.get('instances', 1)}",
        f"{'':32}{'n':>6}{'p50':>9}{'p90':>9}{'p99':>9}{'p99.9':>9}{'max':>9}  (ms)",
    ]
    for label, p in rows:
        lines.append(
            f"{label:32}{p['n']:>6}{p['p50']:>9.1f}{p['p90']:>9.1f}{p['p99']:>9.1f}"
            f"{p['p99.9']:>9.1f}{p['max']:>9.1f}"
        )
    path = result["path"]["press_to_dispatcher"]
    kafka, mongo = result["floor"]["kafka_round_trip"], result["floor"]["mongo_insert"]
    composed = {
        q: PATH_KAFKA_HOPS * kafka[q] + PATH_DB_ROUND_TRIPS * mongo[q] for q in ("p50", "p99")
    }
    lines.append(
        f"composed floor ({PATH_KAFKA_HOPS} Kafka hops + {PATH_DB_ROUND_TRIPS} DB round trips): "
        f"p50 {composed['p50']:.1f} ms, p99 {composed['p99']:.1f} ms"
    )
    lines.append(
        f"ratio path/composed floor: p50 {path['p50'] / composed['p50']:.1f}x, "
        f"p99 {path['p99'] / composed['p99']:.1f}x; "
        f"path/one Kafka round trip: p50 {path['p50'] / kafka['p50']:.1f}x"
    )
    machine = result["path"]["machine_speed"]
    lines.append(
        f"machine: fixed work {machine['p50']:.2f} ms CPU p50, "
        f"p99 {machine['p99']:.2f}, over {SLOWED:g}x the median in "
        f"{machine['slowed_pct']:.1f} % of samples"
        " (0.8 ms at full speed here; tools/speed_probe.py)"
    )
    if result["path"]["background_fixes_per_s"]:
        lines.append(
            f"background load: {result['path']['background_fixes_per_s']} fixes/s accepted"
        )
    for name, lag in result["path"].get("event_loop_lag", {}).items():
        lines.append(
            f"event loop of {name:14} {lag['timers']:>6.0f} timers, late > 10 ms "
            f"{lag['over_10ms_pct']:5.1f} %, > 50 ms {lag['over_50ms_pct']:5.1f} %"
        )
    for handler, busy in sorted(result["path"].get("handlers", {}).items()):
        lines.append(
            f"handler {handler[:40]:40} {busy['handled']:>6.0f} handled, mean "
            f"{busy['mean_ms']:6.1f} ms, busy {busy['busy_pct']:5.1f} %"
        )
    for collected, gc in sorted(result["path"].get("gc", {}).items()):
        lines.append(
            f"gc of {collected:22} {gc['pauses']:>6.0f} pauses, {gc['total_ms']:6.1f} ms in all, "
            f"{gc['over_10ms']:.0f} over 10 ms"
        )
    cold = result["path"].get("cold", {})
    if cold:
        first = cold["press_to_dispatcher"]
        lines.append(
            f"the {first['n']} presses before (each instance's first, not in the figures): "
            f"press → dispatcher p50 {first['p50']:.1f} ms, max {first['max']:.1f} ms"
        )
    cpu, elapsed = result["path"].get("cpu_s", {}), result["path"].get("elapsed_s", 0.0)
    if cpu and elapsed:
        used = ", ".join(f"{name} {seconds / elapsed:.2f}" for name, seconds in cpu.items())
        quiet = result["path"].get("cpu_quiet_cores", {})
        beyond = result["path"].get("cpu_ms_per_press_beyond_quiet", {})
        lines.append(f"CPU in cores over the run's {elapsed:.1f} s: {used}")
        lines.append(
            "quiet (nothing to do), cores: "
            + ", ".join(f"{name} {cores:.2f}" for name, cores in quiet.items())
        )
        lines.append(
            "CPU per press beyond quiet, ms: "
            + ", ".join(f"{name} {ms:.1f}" for name, ms in beyond.items())
            + " (the run's fixes included, if any)"
        )
    if result["path"]["missing"]:
        lines.append(f"MISSING: {result['path']['missing']} alarms never reached the stream")
    return "\n".join(lines)


def bench_env(namespace: str) -> dict[str, str]:
    """The services' settings in a benchmark namespace of their own."""
    return {
        "TOPIC_PREFIX": f"{namespace}.",
        "MONGODB_DB_PREFIX": f"{namespace}_",
        "LOG_LEVEL": "WARNING",
        # every press raises an alarm of its own, so that each one is timed (60 schools would
        # otherwise fold 300 presses into 60 alarms)
        "FOLD_WINDOW_S": "0",
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    base = DeviceSettings()
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    env = bench_env(namespace)
    pace = args.interval_ms / 1000
    database = await database_server(base.mongodb_url)  # printed with the table
    flush = await broker_flush(base.kafka_bootstrap)
    print(f"floor: {args.floor_samples} Kafka round trips and MongoDB inserts ...", flush=True)
    floor = {
        "kafka_round_trip": percentiles(
            await kafka_round_trip(base.kafka_bootstrap, args.floor_samples, pace)
        ),
        "mongo_insert": percentiles(await mongo_insert(base.mongodb_url, args.floor_samples, pace)),
    }
    stack = Stack(env=env, log_dir=OUT / "logs")
    print(f"starting the four services, {args.instances} of alarms and notifications ...")
    stack.start()
    replicas = start_replicas(stack, args.instances)
    try:
        load = f" with {args.fixes_per_s} fixes/s in the background" if args.fixes_per_s else ""
        print(
            f"pressing {args.alarms} buttons, one every {args.interval_ms} ms{load} ...", flush=True
        )
        path = await run_path(args, base, stack, replicas)
    finally:
        for process in (p for group in replicas.values() for p in group):
            process.stop()
        stack.stop()
        await drop_namespace(base, namespace)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "instances": args.instances,
        "args": vars(args),
        "database": database,
        "broker_flush": flush,
        "path": path,
        "floor": floor,
    }


Replicas = dict[str, list[ServiceProcess]]
REPLICATED = ("alarms", "notifications")  # the alarm path


def start_replicas(stack: Stack, instances: int) -> Replicas:
    """`instances` - 1 more of each service on the alarm path, started and ready."""
    replicas: Replicas = {
        name: [stack.replica(name, n) for n in range(2, instances + 1)] for name in REPLICATED
    }
    for process in (p for group in replicas.values() for p in group):
        process.start()
    for process in (p for group in replicas.values() for p in group):
        process.wait_ready(90)
    return replicas


async def drop_namespace(settings: Settings, namespace: str) -> None:
    """Drop a benchmark namespace's databases and topics."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url)
    for name in await client.list_database_names():
        if name.startswith(f"{namespace}_"):
            await client.drop_database(name)
    await client.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(Topics(f"{namespace}.").partitions()))
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alarms", type=int, default=300)
    parser.add_argument(
        "--instances", type=int, default=2, help="instances of alarms and of notifications"
    )
    parser.add_argument("--interval-ms", type=float, default=50.0)
    parser.add_argument("--fixes-per-s", type=int, default=0)
    parser.add_argument("--floor-samples", type=int, default=300)
    parser.add_argument(
        "--warm-up",
        type=int,
        default=4,
        help="presses first, timed apart: each instance's first alarm (0: none)",
    )
    parser.add_argument(
        "--ack-after-s",
        type=float,
        default=2.0,
        help="units acknowledge each order this long after it reached them (negative: never)",
    )
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(table(result))
    OUT.mkdir(parents=True, exist_ok=True)
    Path(OUT / "latest.json").write_text(json.dumps(result, indent=2))
    print(f"written to {OUT / 'latest.json'}")


if __name__ == "__main__":
    main()
