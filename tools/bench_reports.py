"""Every report over a year of a province, through the reporting service's HTTP API (a
benchmark, not a test).

    python -m tools.bench_reports [--scale 1] [--repeat 5] [--regenerate]

Generates the year once (tools/gen_province.py; ~12 min at scale 1 on SecantusDB's Rust server)
into the database `<MONGODB_DB_PREFIX of the run>reporting` on MONGODB_URL and keeps it: a later
run with the same scale, year and seed reuses it. Starts one reporting instance on it, signs in as
a supervisor and times each report for the whole province and for one township, over the year,
one month and an arbitrary stretch (mid-January to mid-December, at odd hours). Prints a table
(median and slowest of `--repeat` calls after one untimed call) with the goals: ≤ 2 s for the
province's year, ≤ 200 ms for a township's; writes .local/bench/reports.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from pymongo import AsyncMongoClient

from services.reporting.api import REPORTS
from shared.auth import issue_token
from shared.mongo import Document
from shared.provisioning import YAML_LOADER
from shared.settings import Settings
from tools import gen_province
from tools.stack import ROOT, Stack

OUT = ROOT / ".local" / "bench"
PREFIX = "province_"
META = "bench_meta"
GOALS_S = {"province": 2.0, "township": 0.2}
ENDPOINTS = [f"/v1/reports/{r.name}" for r in REPORTS.values()] + [
    "/v1/reports/alarms-by-school",
    "/v1/reports/dashboard",
    "/v1/reports/printable",
]


# Refused for a province's 15 000 schools (trends.MAX_SCHOOLS): timed for the township only.
TOWNSHIP_ONLY = {"/v1/reports/trends"}


@dataclass(frozen=True)
class Stretch:
    name: str
    since: str
    until: str


def stretches(year: int) -> list[Stretch]:
    zone = "+08:00"
    return [
        Stretch("year", f"{year}-01-01T00:00:00{zone}", f"{year + 1}-01-01T00:00:00{zone}"),
        Stretch("month", f"{year}-03-01T00:00:00{zone}", f"{year}-04-01T00:00:00{zone}"),
        Stretch("odd", f"{year}-01-15T10:30:00{zone}", f"{year}-12-15T16:45:00{zone}"),
    ]


async def ensure_province(url: str, args: argparse.Namespace, county_file: Path) -> dict[str, Any]:
    """The generated year, made now unless the database already holds this very one."""
    wanted = {"_id": "province", "scale": args.scale, "year": args.year, "seed": args.seed}
    wanted["version"] = gen_province.VERSION
    client: AsyncMongoClient[Document] = AsyncMongoClient(url, tz_aware=True)
    db = client[f"{PREFIX}reporting"]
    try:
        held = await db[META].find_one({"_id": "province"})
        if held == wanted and not args.regenerate and await asyncio.to_thread(county_file.exists):
            print(f"reusing the generated year in {db.name}", flush=True)
            with county_file.open(encoding="utf-8") as fh:
                loaded: dict[str, Any] = yaml.load(fh, Loader=YAML_LOADER)  # noqa: S506
                return loaded
        county = gen_province.province(args.scale, args.seed)
        await asyncio.to_thread(gen_province.write_county, county, county_file)
        print(f"generating a year at scale {args.scale} into {db.name} ...", flush=True)
        started = time.monotonic()
        counts = await gen_province.populate(
            db, county, year=args.year, scale=args.scale, seed=args.seed
        )
        await db[META].replace_one({"_id": "province"}, wanted, upsert=True)
        print(f"generated {sum(counts.values()):,} documents in {time.monotonic() - started:.0f} s")
        return county
    finally:
        await client.close()


async def time_reports(
    base: str, token: str, township: str, spans: list[Stretch], repeat: int
) -> list[dict[str, Any]]:
    """Each report for each span, province and township: `repeat` timed calls after an
    untimed one (none: the first call's time)."""
    rows = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as client:
        for stretch in spans:
            for scope, extra in (("province", {}), ("township", {"township": township})):
                for path in ENDPOINTS:
                    if scope == "province" and path in TOWNSHIP_ONLY:
                        continue
                    params = {"since": stretch.since, "until": stretch.until} | extra
                    started = time.perf_counter()
                    first = await client.get(path, params=params)
                    first.raise_for_status()
                    samples = [] if repeat else [time.perf_counter() - started]
                    for _ in range(repeat):
                        started = time.perf_counter()
                        answer = await client.get(path, params=params)
                        samples.append(time.perf_counter() - started)
                        answer.raise_for_status()
                    slowest_ms, goal_ms = max(samples) * 1000, GOALS_S[scope] * 1000
                    row = {
                        "report": path.removeprefix("/v1/reports/"),
                        "scope": scope,
                        "stretch": stretch.name,
                        "median_ms": round(statistics.median(samples) * 1000, 1),
                        "max_ms": round(slowest_ms, 1),
                        "bytes": len(first.content),
                        "goal_ms": goal_ms,
                        "met": slowest_ms <= goal_ms,
                    }
                    rows.append(row)
                    print(_line(row), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    met = "yes" if row["met"] else "NO"
    return (
        f"| {row['report']:16} | {row['scope']:8} | {row['stretch']:5} | {row['median_ms']:8.1f} "
        f"| {row['max_ms']:8.1f} | {row['bytes']:>10,} | {met:3} |"
    )


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    settings = Settings()
    county_file = ROOT / ".local" / "province" / f"province-{args.scale:g}-{args.seed}.yaml"
    county = await ensure_province(settings.mongodb_url, args, county_file)
    townships = sorted({s["township"] for s in county["schools"]})
    township = townships[len(townships) // 2]
    env = {
        "MONGODB_DB_PREFIX": PREFIX,
        "TOPIC_PREFIX": f"benchreports{uuid.uuid4().hex[:6]}.",
        "COUNTY_FILE": str(county_file),
        "LOG_LEVEL": "WARNING",
    }
    stack = Stack(env=env, log_dir=OUT / "logs", names=("reporting",))
    stack.start(timeout_s=180)
    try:
        token = issue_token(settings.require_jwt_secret(), sub="bench", role="supervisor")
        schools = sum(s["township"] == township for s in county["schools"])
        print(f"{len(county['schools']):,} schools; the township: {township} ({schools} schools)")
        print("| report           | scope    | span  | median ms |  max ms |      bytes | met |")
        print("|---|---|---|---:|---:|---:|---|")
        spans = [s for s in stretches(args.year) if s.name in args.spans]
        return await time_reports(stack["reporting"].url, token, township, spans, args.repeat)
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument(
        "--spans", nargs="+", default=["year", "month", "odd"], choices=["year", "month", "odd"]
    )
    args = parser.parse_args(argv)
    rows = asyncio.run(main_async(args))
    OUT.mkdir(parents=True, exist_ok=True)
    report = {"at": datetime.now().astimezone().isoformat(), "scale": args.scale, "rows": rows}
    (OUT / "reports.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    missed = [r for r in rows if not r["met"]]
    print(f"{len(rows) - len(missed)} of {len(rows)} within their goal")


if __name__ == "__main__":
    main()
