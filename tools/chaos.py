"""The fault suite (`make chaos`; `--short` is the version CI runs in `make test`).

Presses flow at a steady rate, and fixes in the background, through the four services with two
instances of alarms and of notifications, while faults are injected in turn: SIGKILL of each
service, the broker paused (SIGSTOP, then SIGCONT) and restarted, the database restarted, and
network faults between the services and Kafka or MongoDB (latency, connections reset, a black
hole) through Toxiproxy. The services reach Kafka through the broker's FAULTY listener, which
advertises the proxy's port, so every broker connection goes through the proxy.

A dispatcher stays connected throughout, moving to the other notifications instance (with its
`Last-Event-ID`) when one goes away. At the end the checker (tools/chaos_check.py) compares
every press answered 202 with the store, the dispatcher's stream and the reports, and prints
acknowledged / lost / duplicated per fault. Exit status 1 on any loss or duplicate.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from shared.auth import issue_token
from shared.provisioning import County, load_county
from shared.settings import DeviceSettings
from shared.signing import derive_device_secret, device_headers
from tools.bench import bench_env, drop_namespace
from tools.chaos_check import Held, SentPress, Verdict, check
from tools.stack import ROOT, ServiceProcess, Stack, free_port

INFRA = ROOT / "deploy" / "local" / "infra.sh"
TOXIPROXY = ROOT / ".local" / "bin" / "toxiproxy-server"
OUT = ROOT / ".local" / "chaos"
KAFKA_FAULT_PORT = int(os.environ.get("KAFKA_FAULT_PORT", "19095"))
KAFKA_FAULT_PROXY_PORT = int(os.environ.get("KAFKA_FAULT_PROXY_PORT", "19096"))
PRESS_TIMEOUT_S = 10.0
REPORTS_CATCH_UP_S = 120.0  # how long the reports may take to count every alarm after the run


# --- the fault proxy -------------------------------------------------------------------------


class Toxiproxy:
    """A Toxiproxy server of our own (started and stopped here, by its pid) and its HTTP API."""

    def __init__(self) -> None:
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not TOXIPROXY.exists():
            raise SystemExit(f"{TOXIPROXY} is missing: run `make toxiproxy` (Go from its proxy)")
        log = (OUT / "toxiproxy.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - the binary make toxiproxy built
            [str(TOXIPROXY), "-host", "127.0.0.1", "-port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.api}/version", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError("toxiproxy did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    async def proxy(self, client: httpx.AsyncClient, name: str, listen: int, upstream: int) -> None:
        body = {
            "name": name,
            "listen": f"127.0.0.1:{listen}",
            "upstream": f"127.0.0.1:{upstream}",
            "enabled": True,
        }
        (await client.post(f"{self.api}/proxies", json=body)).raise_for_status()

    async def add(
        self, client: httpx.AsyncClient, proxy: str, kind: str, **attributes: int
    ) -> None:
        body = {"name": kind, "type": kind, "stream": "downstream", "attributes": attributes}
        answer = await client.post(f"{self.api}/proxies/{proxy}/toxics", json=body)
        answer.raise_for_status()

    async def remove(self, client: httpx.AsyncClient, proxy: str, kind: str) -> None:
        answer = await client.delete(f"{self.api}/proxies/{proxy}/toxics/{kind}")
        answer.raise_for_status()


def infra(command: str) -> None:
    """deploy/local/infra.sh: it stops, pauses and starts only what it started, by pid."""
    subprocess.run([str(INFRA), command], check=True, cwd=ROOT)  # noqa: S603


# --- faults --------------------------------------------------------------------------------


@dataclass
class Rig:
    """What faults act on."""

    instances: dict[str, ServiceProcess]
    toxiproxy: Toxiproxy
    http: httpx.AsyncClient


Step = Callable[[Rig], Awaitable[None]]


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Step
    heal: Step
    lasts_s: float


def kill(instance: str) -> Fault:
    async def inject(rig: Rig) -> None:
        rig.instances[instance].kill()

    async def heal(rig: Rig) -> None:
        process = rig.instances[instance]
        process.start()
        await asyncio.to_thread(process.wait_ready, 90)

    return Fault(f"SIGKILL {instance}", inject, heal, 3)


def shell(name: str, inject: str, heal: str, lasts_s: float) -> Fault:
    async def run_inject(rig: Rig) -> None:
        await asyncio.to_thread(infra, inject)

    async def run_heal(rig: Rig) -> None:
        await asyncio.to_thread(infra, heal)

    return Fault(name, run_inject, run_heal, lasts_s)


def toxic(proxy: str, kind: str, lasts_s: float, **attributes: int) -> Fault:
    async def inject(rig: Rig) -> None:
        await rig.toxiproxy.add(rig.http, proxy, kind, **attributes)

    async def heal(rig: Rig) -> None:
        await rig.toxiproxy.remove(rig.http, proxy, kind)

    label = ", ".join(f"{k} {v}" for k, v in attributes.items())
    return Fault(f"{proxy}: {kind}{f' ({label})' if label else ''}", inject, heal, lasts_s)


def faults(short: bool, only: str | None = None) -> list[Fault]:
    """The faults of a run, in turn; `only`: those whose name contains it."""
    chosen = _faults(short)
    return [f for f in chosen if only is None or only in f.name]


def _faults(short: bool) -> list[Fault]:
    if short:
        return [
            kill("alarms-1"),
            kill("notifications-1"),
            shell("broker paused 5 s", "pause-kafka", "resume-kafka", 5),
            shell("broker restarted", "stop-kafka", "start-kafka", 2),
            toxic("kafka", "reset_peer", 3, timeout=0),
            toxic("mongodb", "latency", 5, latency=300, jitter=100),
        ]
    return [
        kill("alarms-1"),
        kill("alarms-2"),
        kill("notifications-1"),
        kill("notifications-2"),
        kill("patrols"),
        kill("reporting"),
        shell("broker paused 10 s", "pause-kafka", "resume-kafka", 10),
        shell("broker restarted", "stop-kafka", "start-kafka", 2),
        shell("database restarted", "stop-mongo", "start-mongo", 2),
        toxic("kafka", "latency", 10, latency=300, jitter=100),
        toxic("kafka", "reset_peer", 5, timeout=0),
        toxic("kafka", "timeout", 5, timeout=0),
        toxic("mongodb", "latency", 10, latency=300, jitter=100),
        toxic("mongodb", "reset_peer", 5, timeout=0),
        toxic("mongodb", "timeout", 5, timeout=0),
    ]


# --- the workload --------------------------------------------------------------------------


@dataclass
class Workload:
    """Presses at a steady rate, each retried (same press id) until it is answered 202, as a
    device does; fixes in the background; a dispatcher following the feed throughout."""

    county: County
    seed: str
    jwt_secret: str
    alarms_urls: list[str]
    notifications_urls: list[str]
    patrols_url: str
    fault: str = "none (warm-up)"
    faults: list[tuple[datetime, str]] = field(default_factory=list)  # when each began
    acknowledged: list[SentPress] = field(default_factory=list)
    stream: list[dict[str, Any]] = field(default_factory=list)
    pending: set[asyncio.Task[None]] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)  # answered 4xx: not to be retried
    reconnects: int = 0
    resets: int = 0
    connections: list[str] = field(default_factory=list)  # when, where, from which id
    last_id: str | None = None  # the last complete event's id, kept across connections
    fixes_sent: Counter[bool] = field(default_factory=Counter)  # accepted or not

    async def presses(self, client: httpx.AsyncClient, per_s: float) -> None:
        for n in itertools.count():
            task = asyncio.create_task(self._press(client, n, self.fault))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)
            await asyncio.sleep(1 / per_s)

    async def _press(self, client: httpx.AsyncClient, n: int, fault: str) -> None:
        device = self.county.devices[n % len(self.county.devices)]
        press_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "press_id": press_id,
                "school_id": device.school_id,
                "device_id": device.device_id,
                "kind": ("intrusion", "fire", "medical")[n % 3],
                "silent": True,
                "test": False,
                "location": {"building": "A", "floor": 1, "room": "101"},
                "pressed_at": datetime.now(UTC).isoformat(),
            }
        ).encode()
        secret = derive_device_secret(self.seed, device.device_id)
        for attempt in itertools.count():
            url = self.alarms_urls[(n + attempt) % len(self.alarms_urls)]
            headers = device_headers(secret, device.device_id, body)
            try:
                answer = await client.post(
                    f"{url}/v1/alarms", content=body, headers=headers, timeout=PRESS_TIMEOUT_S
                )
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            if answer.status_code == 202:
                alarm_id = answer.json()["alarm_id"]
                self.acknowledged.append(SentPress(press_id, alarm_id, fault))
                return
            if answer.status_code not in {429, 503} and answer.status_code < 500:
                self.refused.append(f"press {press_id}: {answer.status_code} {answer.text[:200]}")
                return
            await asyncio.sleep(0.5)

    async def fixes(self, client: httpx.AsyncClient, per_s: float) -> None:
        units = self.county.units
        for n in itertools.count():
            unit = units[n % len(units)]
            token = issue_token(self.jwt_secret, sub=unit.unit_id, role="unit")
            fix = {
                "lat": unit.home_lat,
                "lon": unit.home_lon,
                "recorded_at": datetime.now(UTC).isoformat(),
            }
            try:  # background load: a fix refused during a fault is the terminal's to resend
                answer = await client.post(
                    f"{self.patrols_url}/v1/units/{unit.unit_id}/positions",
                    json={"fixes": [fix]},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=5,
                )
                self.fixes_sent[answer.status_code == 202] += 1
            except httpx.HTTPError:
                self.fixes_sent[False] += 1
            await asyncio.sleep(1 / per_s)

    async def dispatcher(self, client: httpx.AsyncClient) -> None:
        """Follow the feed, resuming on the other instance with Last-Event-ID after a drop."""
        token = issue_token(self.jwt_secret, sub="chaos", role="dispatcher")
        for n in itertools.count():
            url = self.notifications_urls[n % len(self.notifications_urls)]
            headers = {"Authorization": f"Bearer {token}"}
            if self.last_id is not None:
                headers["Last-Event-ID"] = self.last_id
            self.connections.append(f"{datetime.now(UTC):%H:%M:%S.%f} {url} after {self.last_id}")
            try:
                async with client.stream(
                    "GET", f"{url}/v1/dispatcher/stream", headers=headers, timeout=None
                ) as sse:
                    if sse.status_code == 200:
                        await self._read(sse)
            except httpx.HTTPError:
                pass  # the instance went away: on to the other one
            self.reconnects += 1
            await asyncio.sleep(0.2)

    async def _read(self, sse: httpx.Response) -> None:
        """Events as EventSource dispatches them: at the blank line that ends one. Only then
        does its id count as received (a connection cut inside a frame resumes before it)."""
        fields: dict[str, str] = {}
        async for line in sse.aiter_lines():
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                continue
            if "data" in fields:
                if fields.get("event") == "reset":
                    self.resets += 1
                else:
                    self.stream.append(json.loads(fields["data"]) | {"sse_id": fields.get("id")})
                self.last_id = fields.get("id", self.last_id)
            fields = {}


# --- the run -------------------------------------------------------------------------------


async def run(
    short: bool, presses_per_s: float, settle_s: float, only: str | None = None
) -> Verdict:
    shutil.rmtree(OUT / "logs", ignore_errors=True)  # this run's logs only
    OUT.mkdir(parents=True, exist_ok=True)
    base = DeviceSettings()
    if not _port_open(KAFKA_FAULT_PORT):  # a broker started before the FAULTY listener existed
        await asyncio.to_thread(infra, "stop-kafka")
        await asyncio.to_thread(infra, "start-kafka")
    toxiproxy = Toxiproxy()
    toxiproxy.start()
    namespace = f"chaos{uuid.uuid4().hex[:6]}"
    mongo_port = free_port()
    mongo_host_port = base.mongodb_url.split("//", 1)[1].split("/", 1)[0]
    env = bench_env(namespace) | {
        # raises and folds alike: a press joins its school's alarm if that was raised within
        # 30 s, else raises a new one (each school is pressed every 15 s at 4 presses/s)
        "FOLD_WINDOW_S": "30",
        "KAFKA_BOOTSTRAP": f"127.0.0.1:{KAFKA_FAULT_PROXY_PORT}",
        "MONGODB_URL": base.mongodb_url.replace(mongo_host_port, f"127.0.0.1:{mongo_port}"),
        "LOG_LEVEL": "INFO",
    }
    stack = Stack(env=env, log_dir=OUT / "logs")
    instances = {
        "alarms-1": stack["alarms"],
        "alarms-2": stack.replica("alarms", 2),
        "notifications-1": stack["notifications"],
        "notifications-2": stack.replica("notifications", 2),
        "patrols": stack["patrols"],
        "reporting": stack["reporting"],
    }
    started = datetime.now(UTC)
    tasks: list[asyncio.Task[None]] = []
    work: Workload | None = None
    verdict_ok = False
    async with httpx.AsyncClient() as http:
        try:
            await toxiproxy.proxy(http, "kafka", KAFKA_FAULT_PROXY_PORT, KAFKA_FAULT_PORT)
            await toxiproxy.proxy(http, "mongodb", mongo_port, int(mongo_host_port.split(":")[1]))
            for process in instances.values():
                process.start()
            for process in instances.values():
                await asyncio.to_thread(process.wait_ready, 120)
            rig = Rig(instances, toxiproxy, http)
            county = load_county(base.county_file)
            seed = base.device_key_seed.get_secret_value() if base.device_key_seed else ""
            work = Workload(
                county=county,
                seed=seed,
                jwt_secret=base.require_jwt_secret(),
                alarms_urls=[instances["alarms-1"].url, instances["alarms-2"].url],
                notifications_urls=[
                    instances["notifications-1"].url,
                    instances["notifications-2"].url,
                ],
                patrols_url=instances["patrols"].url,
            )
            tasks = [
                asyncio.create_task(work.dispatcher(http)),
                asyncio.create_task(work.fixes(http, 20)),
            ]
            await asyncio.sleep(2)
            work.faults.append((datetime.now(UTC), work.fault))
            tasks.append(asyncio.create_task(work.presses(http, presses_per_s)))
            await asyncio.sleep(settle_s)
            for fault in faults(short, only):
                work.fault = fault.name
                work.faults.append((datetime.now(UTC), fault.name))
                print(f"[chaos] {fault.name}", flush=True)
                await fault.inject(rig)
                await asyncio.sleep(fault.lasts_s)
                await fault.heal(rig)
                await asyncio.sleep(settle_s)
            tasks[-1].cancel()  # no more presses; the ones under way are retried to the end
            await _settled(work, timeout_s=120)
            held = await _held(base, namespace, work, instances["reporting"].url, started)
            verdict = check(work.acknowledged, held, work.refused)
            _report(verdict, work, short)
            verdict_ok = verdict.ok
            return verdict
        finally:
            for task in [*tasks, *(work.pending if work else ())]:
                task.cancel()
            for process in instances.values():
                process.stop()
            toxiproxy.stop()
            if verdict_ok:
                await drop_namespace(base, namespace)
            else:
                print(f"[chaos] kept namespace {namespace} and {OUT}/logs to look into", flush=True)


async def _settled(work: Workload, timeout_s: float) -> None:
    """Until every press is answered and the stream has had time to show it."""
    if work.pending:
        _, unanswered = await asyncio.wait(set(work.pending), timeout=timeout_s)
        if unanswered:
            raise TimeoutError(f"{len(unanswered)} presses still unanswered after {timeout_s} s")
    await asyncio.sleep(10)  # the last raises reach the dispatcher and the reports


async def _reported(work: Workload, reporting_url: str, since: datetime, held: int) -> int:
    """The alarms the reports count, once they count every alarm held or REPORTS_CATCH_UP_S
    have passed (the reports follow the events: after faults they may be behind)."""
    token = issue_token(work.jwt_secret, sub="chaos", role="supervisor")
    params = {"since": (since - timedelta(minutes=1)).isoformat()}
    deadline = time.monotonic() + REPORTS_CATCH_UP_S
    async with httpx.AsyncClient() as http:
        while True:
            rows = (
                await http.get(
                    f"{reporting_url}/v1/reports/alarms",
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()
            reported = int(sum(row["alarms"] + row["tests"] for row in rows))
            if reported >= held or time.monotonic() > deadline:
                return reported
            await asyncio.sleep(1)


async def _held(
    base: DeviceSettings, namespace: str, work: Workload, reporting_url: str, since: datetime
) -> Held:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(base.mongodb_url)
    try:
        alarms = (
            await client[f"{namespace}_alarms"]["alarms"]
            .find({}, {"_id": 1, "press_alarm_ids": 1, "raised_at": 1})
            .to_list(None)
        )
    finally:
        await client.close()
    reported = await _reported(work, reporting_url, since, len(alarms))
    return Held(
        alarms=alarms, stream=list(work.stream), reported_alarms=reported, faults=work.faults
    )


def _report(verdict: Verdict, work: Workload, short: bool) -> None:
    command = "make chaos CHAOS_ARGS=--short" if short else "make chaos"
    text = "\n".join(
        [
            f"# Chaos run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (`{command}`)",
            "",
            verdict.table(),
            f"dispatcher reconnects: {work.reconnects}; resets: {work.resets}; fixes accepted "
            f"{work.fixes_sent[True]}, refused during faults {work.fixes_sent[False]}",
            "",
            *verdict.problems[:50],
        ]
    )
    print(text, flush=True)
    (OUT / "latest.md").write_text(text + "\n", encoding="utf-8")
    with (OUT / "stream.jsonl").open("w", encoding="utf-8") as fh:  # for a post-mortem
        fh.writelines(json.dumps(entry) + "\n" for entry in work.stream)
    (OUT / "connections.txt").write_text("\n".join(work.connections) + "\n", encoding="utf-8")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="six faults (what CI runs)")
    parser.add_argument("--presses-per-s", type=float, default=4.0)
    parser.add_argument("--settle-s", type=float, default=8.0, help="normal load between faults")
    parser.add_argument("--only", help="only the faults whose name contains this")
    args = parser.parse_args()
    verdict = asyncio.run(run(args.short, args.presses_per_s, args.settle_s, args.only))
    sys.exit(0 if verdict.ok else 1)


if __name__ == "__main__":
    main()
