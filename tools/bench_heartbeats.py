"""Button supervision at county scale on one alarms instance (a benchmark, not a test).

    python -m tools.bench_heartbeats [--devices 10000] [--seconds 60] [--presses-per-s 2]

Starts alarms alone in a namespace of its own, with the sample county's schools and
`--devices` buttons spread over them. First presses alone for `--baseline-s` (press → 202 as
it is today); then every button beats once a minute (`--devices` / 60 heartbeats a second,
each signed as its button signs it) for `--seconds` while the same presses go on. Reported:
heartbeats offered and recorded per second (over the whole run, to the last answer),
heartbeat → 200 latency, press → 202 with and without the heartbeats, and the CPU the alarms
process used. Sustained means every heartbeat was answered 200 and the last answer came
within a second of the schedule's end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from shared.settings import ROOT, Settings
from shared.signing import derive_device_secret, device_headers
from tools.bench import OUT, database_server, drop_namespace, percentiles
from tools.http_load import KeepAliveConnection
from tools.stack import Stack

SEED = "bench-heartbeats-device-seed"


def county_with(devices: int, path: Path) -> list[str]:
    """The sample county with `devices` buttons spread over its schools; their ids."""
    county = yaml.safe_load((ROOT / "deploy" / "county.yaml").read_text(encoding="utf-8"))
    schools = [s["school_id"] for s in county["schools"]]
    county["devices"] = [
        {
            "device_id": f"{schools[n % len(schools)]}-HB{n:05d}",
            "school_id": schools[n % len(schools)],
        }
        for n in range(devices)
    ]
    path.write_text(yaml.safe_dump(county, allow_unicode=True), encoding="utf-8")
    return [d["device_id"] for d in county["devices"]]


def signed(device: str, body: bytes) -> dict[str, str]:
    return device_headers(derive_device_secret(SEED, device), device, body)


def heartbeat(n: int) -> bytes:
    return json.dumps(
        {
            "sent_at": datetime.now(UTC).isoformat(),
            "battery_pct": 50 + n % 50,
            "tamper": False,
            "power": "battery",
            "firmware": "2.1.0",
            "signal_dbm": -70,
        }
    ).encode()


def press(device: str) -> bytes:
    return json.dumps(
        {
            "press_id": str(uuid.uuid4()),
            "school_id": device.split("-HB")[0],
            "device_id": device,
            "kind": "intrusion",
            "silent": True,
            "test": True,
            "location": {"building": "A", "floor": 1, "room": "101"},
            "pressed_at": datetime.now(UTC).isoformat(),
        }
    ).encode()


class Load:
    """Heartbeats and presses on a schedule, each on a pool of kept-alive connections."""

    def __init__(self, url: str, devices: list[str], connections: int) -> None:
        self.url = url
        self.devices = devices
        self.pool: asyncio.Queue[KeepAliveConnection] = asyncio.Queue()
        for _ in range(connections):
            self.pool.put_nowait(KeepAliveConnection(url))
        self.beats: list[float] = []
        self.beat_statuses: dict[int, int] = {}
        self.presses: list[float] = []
        self.press_statuses: dict[int, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
        connection = await self.pool.get()
        started = time.perf_counter()
        try:
            status, _ = await connection.post(path, body, headers)
        finally:
            self.pool.put_nowait(connection)
        return status, time.perf_counter() - started

    async def _beat(self, n: int) -> None:
        device = self.devices[n % len(self.devices)]
        body = heartbeat(n)
        status, took = await self._post(
            f"/v1/devices/{device}/heartbeat", body, signed(device, body)
        )
        self.beat_statuses[status] = self.beat_statuses.get(status, 0) + 1
        if status == 200:
            self.beats.append(took)

    async def _press(self, n: int) -> None:
        device = self.devices[(n * 7919) % len(self.devices)]  # a different button each time
        body = press(device)
        status, took = await self._post("/v1/alarms", body, signed(device, body))
        self.press_statuses[status] = self.press_statuses.get(status, 0) + 1
        if status == 202:
            self.presses.append(took)

    async def run(self, *, seconds: float, beats_per_s: float, presses_per_s: float) -> float:
        """Send on schedule for `seconds`; wait for every answer; the seconds it took."""
        started = time.perf_counter()
        beats = [(i / beats_per_s, "beat", i) for i in range(int(seconds * beats_per_s))]
        presses = [(i / presses_per_s, "press", i) for i in range(int(seconds * presses_per_s))]
        events = sorted(beats + presses)
        for at, kind, n in events:
            await asyncio.sleep(max(0.0, started + at - time.perf_counter()))
            work = self._beat(n) if kind == "beat" else self._press(n)
            task = asyncio.create_task(work)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.gather(*self._tasks)
        return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    namespace = f"benchhb{uuid.uuid4().hex[:6]}"
    OUT.mkdir(parents=True, exist_ok=True)
    county_file = OUT / f"county-{namespace}.yaml"
    devices = county_with(args.devices, county_file)
    env = {
        "TOPIC_PREFIX": f"{namespace}.",
        "MONGODB_DB_PREFIX": f"{namespace}_",
        "COUNTY_FILE": str(county_file),
        "DEVICE_KEY_SEED": SEED,
        "LOG_LEVEL": "WARNING",
        "PRESS_BURST": "1000",
    }
    database = await database_server(settings.mongodb_url)
    print(f"database: {database}", flush=True)
    stack = Stack(env=env, log_dir=OUT / "logs-heartbeats", names=("alarms",))
    stack.start()
    process = stack["alarms"]
    assert process.proc is not None
    try:
        baseline = Load(process.url, devices, args.connections)
        print(f"presses alone, {args.presses_per_s}/s for {args.baseline_s:.0f} s ...", flush=True)
        await baseline.run(seconds=args.baseline_s, beats_per_s=0, presses_per_s=args.presses_per_s)
        beats_per_s = args.devices / 60
        load = Load(process.url, devices, args.connections)
        print(f"{args.devices} buttons beating once a minute ({beats_per_s:.0f}/s) ...", flush=True)
        cpu_before = cpu_seconds(process.proc.pid)
        took = await load.run(
            seconds=args.seconds, beats_per_s=beats_per_s, presses_per_s=args.presses_per_s
        )
        cpu = (cpu_seconds(process.proc.pid) - cpu_before) / took
    finally:
        stack.stop()
        await drop_namespace(settings, namespace)
        county_file.unlink(missing_ok=True)
    offered = int(args.seconds * beats_per_s)
    recorded = load.beat_statuses.get(200, 0)
    return {
        "database": database,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": vars(args),
        "heartbeats_offered_per_s": round(offered / args.seconds, 1),
        "heartbeats_recorded_per_s": round(recorded / took, 1),
        "heartbeat_statuses": load.beat_statuses,
        "heartbeat_to_200": percentiles(load.beats),
        "press_to_202_alone": percentiles(baseline.presses),
        "press_to_202_with_heartbeats": percentiles(load.presses),
        "press_statuses": {"alone": baseline.press_statuses, "with": load.press_statuses},
        "alarms_cpu_share": round(cpu, 3),
        # every heartbeat answered 200, and the last within a second of the schedule's end
        "sustained": recorded == offered and took <= args.seconds + 1.0,
    }


def show(result: dict[str, Any]) -> None:
    print(f"database: {result['database']}")
    print(
        f"heartbeats: offered {result['heartbeats_offered_per_s']}/s, recorded "
        f"{result['heartbeats_recorded_per_s']}/s, answers {result['heartbeat_statuses']}, "
        f"sustained: {result['sustained']}"
    )
    print(f"alarms process CPU while beating: {100 * result['alarms_cpu_share']:.0f} % of a core")
    print(f"{'':34} {'n':>6} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}  (ms)")
    for label, key in (
        ("heartbeat → 200", "heartbeat_to_200"),
        ("press → 202, presses alone", "press_to_202_alone"),
        ("press → 202, with heartbeats", "press_to_202_with_heartbeats"),
    ):
        p = result[key]
        print(
            f"{label:34} {p['n']:>6} {p['p50']:>8.1f} {p['p90']:>8.1f} {p['p99']:>8.1f} "
            f"{p['max']:>8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--baseline-s", type=float, default=30.0)
    parser.add_argument("--presses-per-s", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=128)
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    show(result)
    (OUT / "heartbeats.json").write_text(json.dumps(result, indent=2))
    print(f"written to {OUT / 'heartbeats.json'}")


if __name__ == "__main__":
    main()
