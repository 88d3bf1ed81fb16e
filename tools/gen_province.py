"""A year of a province for the report benchmark: its provisioning file and its read models.

    python -m tools.gen_province --mongodb-url URL --database NAME --county-file PATH [--scale S]

At scale 1: 15,000 schools in 14 prefectures, 86 counties and 774 townships; 5,000 units;
about 50,000 alarms, 500,000 violations, 2 million check-ins, 3 million visits, 3 million
guard-post windows, 135,000 activities and 20,000 button troubles over the calendar year.
Deterministic for a seed. The reporting service's documents are written as it stores them
(the same fields; tests/unit/test_gen_province.py checks them against the events' models),
with the roll-ups and ledgers it keeps computed by the same functions
(services/reporting/tallies.py).
Progress goes to stderr, a month at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time as clock
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, get_args
from zoneinfo import ZoneInfo

import yaml
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting import rollups, tallies
from services.reporting.repository import (
    ACTIVITIES,
    CAMPAIGNS,
    CHECKINS,
    GUARD_WINDOWS,
    TROUBLES,
    VIOLATIONS,
    VISITS,
    MongoReportingRepository,
)
from shared.events import (
    INSPECTION_ITEMS,
    AlarmKind,
    CheckinRecorded,
    GuardPostWindow,
    PointVisited,
    ViolationKind,
)
from shared.mongo import Document

ZONE = ZoneInfo("Asia/Shanghai")
VERSION = 6  # of what a seed generates: a benchmark reuses a year only of the same version
PREFECTURES = (
    "兰州", "嘉峪关", "金昌", "白银", "天水", "武威", "张掖",
    "平凉", "酒泉", "庆阳", "定西", "陇南", "临夏", "甘南",
)  # fmt: skip
COUNTIES, TOWNSHIPS_PER_COUNTY = 86, 9
SCHOOLS, UNITS = 15_000, 5_000
PER_YEAR = {
    "alarms": 50_000,
    "violations": 500_000,
    "checkins": 2_000_000,
    "visits": 3_000_000,
    "activities": 135_000,
    "troubles": 20_000,
    "campaigns": 120,
}
POST_EVERY = 3  # one school in three has a guard post, staffed in three windows a school day
POINT_KINDS = tallies.POINT_KINDS
ALARM_KINDS = get_args(AlarmKind)
VIOLATION_KINDS = get_args(ViolationKind)
TOPICS = ("legal_education", "traffic_safety", "anti_bullying", "anti_fraud", "drug_prevention")


# --- the province's provisioning file ---------------------------------------------------------


def province(scale: float = 1.0, seed: int = 2026) -> dict[str, Any]:
    """Schools spread over the counties' townships, one or two buttons and three patrol points
    each, units spread over the counties (the shape of deploy/county.yaml)."""
    rng = random.Random(seed)
    schools, devices, points, units = [], [], [], []
    townships = [
        (f"{PREFECTURES[c % len(PREFECTURES)]}{c + 1}县{t + 1}镇", 33 + c * 0.05, 100 + t * 0.05)
        for c in range(COUNTIES)
        for t in range(TOWNSHIPS_PER_COUNTY)
    ]
    for n in range(max(1, round(SCHOOLS * scale))):
        township, lat, lon = townships[n % len(townships)]
        sid = f"P{n + 1:05d}"
        lat, lon = round(lat + rng.uniform(0, 0.04), 6), round(lon + rng.uniform(0, 0.04), 6)
        schools.append(
            {"school_id": sid, "name": f"{township}第{n // len(townships) + 1}小学"}
            | {"township": township, "lat": lat, "lon": lon}
        )
        devices += [{"device_id": f"{sid}-BTN{d + 1}", "school_id": sid} for d in range(1 + n % 2)]
        points += [
            {"point_id": f"{sid}-{kind}", "school_id": sid, "kind": kind}
            | {"lat": lat, "lon": lon, "radius_m": 60}
            for kind in POINT_KINDS
        ]
    for u in range(max(1, round(UNITS * scale))):
        home = schools[u % len(schools)]
        units.append(
            {"unit_id": f"PU{u + 1:05d}", "kind": "patrol_car", "callsign": f"巡{u + 1}"}
            | {"station": f"{home['township']}派出所"}
            | {"home_lat": home["lat"], "home_lon": home["lon"]}
        )
    return {
        "name": "甘肃省 (sample province)",
        "timezone": str(ZONE),
        "schools": schools,
        "devices": devices,
        "units": units,
        "patrol_points": points,
    }


# --- a year of read models ----------------------------------------------------------------


@dataclass
class Year:
    """What the year's generation needs from the province and keeps between days."""

    rng: random.Random
    schools: list[dict[str, Any]]
    units: list[str]
    year: int
    scale: float
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    open_troubles: dict[str, Document] = field(default_factory=dict)
    weights: float = 0.0  # the year's days, weighted as `weight` weighs them
    townships: dict[str, str] = field(default_factory=dict)  # each school's

    def __post_init__(self) -> None:
        self.townships = {school["school_id"]: school["township"] for school in self.schools}
        day, self.weights = date(self.year, 1, 1), 0.0
        while day.year == self.year:
            self.weights += weight(day)
            day += timedelta(days=1)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def per_day(self, what: str, day: date | None = None) -> int:
        """How many of `what` happen that day: the year's figure spread by weight (school
        days weigh more), or evenly without a day."""
        share = 1 / 365 if day is None else weight(day) / self.weights
        mean = PER_YEAR[what] * self.scale * share
        whole = int(mean)
        return whole + (self.rng.random() < mean - whole)

    def moment(self, day: date, first_hour: int = 6, last_hour: int = 21) -> datetime:
        start = datetime.combine(day, time(first_hour), tzinfo=ZONE)
        seconds = self.rng.randrange((last_hour - first_hour) * 3600)
        return (start + timedelta(seconds=seconds)).astimezone(UTC)


def weight(day: date) -> float:
    """Patrols, violations and activities on a school day, against a weekend or holiday."""
    return 1.0 if school_day(day) else 0.4


def school_day(day: date) -> bool:
    """Weekdays outside the winter (late Jan - Feb) and summer (mid Jul - Aug) holidays."""
    holiday = (1, 20) <= (day.month, day.day) <= (2, 20) or (day.month, day.day) >= (7, 10)
    return day.weekday() < 5 and not (holiday and (day.month, day.day) <= (8, 31))


def _event(year: Year, at: datetime) -> Document:
    return {"event_id": year.uuid(), "occurred_at": at, "schema_version": 1}


def checkin(year: Year, day: date) -> Document:
    school = year.rng.choice(year.schools)
    kind = year.rng.choice(POINT_KINDS)
    flagged = year.rng.random() < 0.03
    at = year.moment(day)
    checkin_id = year.uuid()
    return (
        {"_id": checkin_id}
        | _event(year, at)
        | {"checkin_id": checkin_id, "unit_id": year.rng.choice(year.units)}
        | {"point_id": f"{school['school_id']}-{kind}", "school_id": school["school_id"]}
        | {"point_kind": kind, "lat": school["lat"], "lon": school["lon"], "at": at}
        | {"distance_m": 180.0 if flagged else 12.0, "flagged": flagged, "note": None}
    )


def visit(year: Year, day: date) -> Document:
    school = year.rng.choice(year.schools)
    kind = year.rng.choice(POINT_KINDS)
    arrived = year.moment(day)
    dwell = float(year.rng.randrange(30, 1800))
    visit_id = year.uuid()
    return (
        {"_id": visit_id}
        | _event(year, arrived + timedelta(seconds=dwell))
        | {"visit_id": visit_id, "unit_id": year.rng.choice(year.units)}
        | {"point_id": f"{school['school_id']}-{kind}", "school_id": school["school_id"]}
        | {"point_kind": kind, "arrived_at": arrived}
        | {"left_at": arrived + timedelta(seconds=dwell), "dwell_s": dwell}
        | {"fixes": 1 + int(dwell // 10), "closed_by": "left"}
    )


WINDOW_HOURS = {"morning": (7, 0), "noon": (11, 30), "afternoon": (17, 0)}


def guard_windows(year: Year, day: date) -> Iterator[Document]:
    for school in year.schools[::POST_EVERY]:
        post = f"{school['school_id']}-stop"
        for name, (hour, minute) in WINDOW_HOURS.items():
            start = datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)
            roll = year.rng.random()
            state = "staffed" if roll < 0.9 else "late" if roll < 0.96 else "empty"
            arrived = None if state == "empty" else start + timedelta(minutes=5 * (state == "late"))
            yield (
                {"_id": f"{post}|{day.isoformat()}|{name}"}
                | _event(year, start + timedelta(minutes=40))
                | {"post_id": post, "school_id": school["school_id"], "unit_id": year.units[0]}
                | {"day": day.isoformat(), "window": name, "window_start": start}
                | {"window_end": start + timedelta(minutes=40), "state": state, "final": True}
                | {"arrived_at": arrived, "last_seen_m": 8.0}
            )


def violation(year: Year, day: date) -> Document:
    school = year.rng.choice(year.schools)
    at = year.moment(day)
    running = [c for c in year.campaigns if c["starts_on"] <= day.isoformat() <= c["ends_on"]]
    campaign = year.rng.choice(running) if running and year.rng.random() < 0.7 else None
    violation_id = year.uuid()
    return (
        {"_id": violation_id}
        | _event(year, at)
        | {"violation_id": violation_id, "unit_id": year.rng.choice(year.units)}
        | {"officer": "officer", "kind": year.rng.choice(VIOLATION_KINDS), "plate": None}
        | {"place": {"lat": school["lat"], "lon": school["lon"], "description": ""}}
        | {"school_id": school["school_id"], "observed_at": at, "evidence": []}
        | {"campaign": campaign and {"campaign_id": campaign["_id"], "name": campaign["name"]}}
        | {"notes": None}
    )


def campaign(year: Year, day: date) -> Document:
    campaign_id = f"C{day.isoformat()}-{year.rng.randrange(10**6):06d}"
    everywhere = year.rng.random() < 0.3
    schools = [] if everywhere else [s["school_id"] for s in year.rng.sample(year.schools, 1)]
    return (
        {"_id": campaign_id}
        | _event(year, datetime.combine(day, time(8), tzinfo=ZONE).astimezone(UTC))
        | {"campaign_id": campaign_id, "name": f"专项整治 {campaign_id}", "school_ids": schools}
        | {"starts_on": day.isoformat()}
        | {"ends_on": (day + timedelta(days=year.rng.randrange(7, 45))).isoformat()}
        | {"created_by": "supervisor"}
    )


def alarm(year: Year, day: date) -> Document:
    school = year.rng.choice(year.schools)
    pressed = year.moment(day, 0, 24)
    states, at = {"raised": pressed + timedelta(milliseconds=40)}, pressed
    for state, mean_s in (("acknowledged", 20), ("unit_assigned", 60), ("on_scene", 420)):
        at += timedelta(seconds=year.rng.expovariate(1 / mean_s))
        states[state] = at
    test = year.rng.random() < 0.05
    closed = "cancelled" if year.rng.random() < 0.2 else "resolved"
    states[closed] = at + timedelta(seconds=year.rng.randrange(300, 3600))
    outcome = "false_alarm" if closed == "cancelled" else "handled"
    return (
        {"_id": year.uuid(), "school_id": school["school_id"], "school_name": school["name"]}
        | {"township": school["township"], "kind": year.rng.choice(ALARM_KINDS), "test": test}
        | {"states": states, "press_count": 1, "raised_at": states["raised"]}
        | {"pressed_at": pressed, "closed": closed, "outcome": outcome}
    )


def activity(year: Year, day: date) -> Document:
    school = year.rng.choice(year.schools)
    held = year.moment(day, 8, 17)
    roll = year.rng.random()
    details: dict[str, Any]
    if roll < 0.45:
        passed = {item: year.rng.random() < 0.93 for item in INSPECTION_ITEMS}
        details = {"kind": "inspection", "items": passed, "findings": None}
    elif roll < 0.67:
        details = {"kind": "drill", "scenario": "evacuation", "participants": 300}
    elif roll < 0.89:
        topic = year.rng.choice(TOPICS)
        details = {"kind": "session", "topic": topic, "audience": 120, "title": ""}
    else:
        details = {"kind": "letters", "topic": year.rng.choice(TOPICS), "letters": 400}
    activity_id = year.uuid()
    return (
        {"_id": activity_id}
        | _event(year, held)
        | {"activity_id": activity_id, "school_id": school["school_id"], "held_at": held}
        | {"recorded_by": "supervisor", "activity": details, "notes": None}
    )


def troubles(year: Year, day: date) -> Iterator[Document]:
    """Restorals of troubles raised before (most within a day or two), and new ones."""
    for device_id, raised in list(year.open_troubles.items()):
        if year.rng.random() < 0.6:
            del year.open_troubles[device_id]
            event_id = year.uuid()
            yield (
                raised
                | {"_id": event_id, "event_id": event_id, "status": "restored"}
                | {"occurred_at": year.moment(day, 0, 24)}
            )
    for _ in range(year.per_day("troubles")):
        school = year.rng.choice(year.schools)
        device_id = f"{school['school_id']}-BTN1"
        if device_id in year.open_troubles:
            continue
        at = year.moment(day, 0, 24)
        school_ref = {k: school[k] for k in ("school_id", "name", "township", "lat", "lon")}
        raised = (
            _event(year, at)
            | {"trouble_id": year.uuid(), "device_id": device_id, "school": school_ref}
            | {"kind": year.rng.choice(("offline", "battery_low", "tamper"))}
            | {"status": "raised", "since": at, "count": 1, "last_seen": at}
            | {"battery_pct": None, "detail": None}
        )
        year.open_troubles[device_id] = raised
        yield {"_id": raised["event_id"]} | raised


def day_of(year: Year, day: date) -> dict[str, list[Document]]:
    """Every record of one county day."""
    if year.rng.random() < PER_YEAR["campaigns"] * year.scale / 365 or not year.campaigns:
        year.campaigns.append(campaign(year, day))
        new_campaigns = [year.campaigns[-1]]
    else:
        new_campaigns = []
    return {
        CAMPAIGNS.collection: new_campaigns,
        CHECKINS.collection: [checkin(year, day) for _ in range(year.per_day("checkins", day))],
        VISITS.collection: [visit(year, day) for _ in range(year.per_day("visits", day))],
        VIOLATIONS.collection: [
            violation(year, day) for _ in range(year.per_day("violations", day))
        ],
        GUARD_WINDOWS.collection: list(guard_windows(year, day)) if school_day(day) else [],
        "alarm_facts": [alarm(year, day) for _ in range(year.per_day("alarms"))],
        ACTIVITIES.collection: [
            activity(year, day) for _ in range(year.per_day("activities", day))
        ],
        TROUBLES.collection: list(troubles(year, day)),
    }


# --- roll-ups, as the service keeps them ----------------------------------------------------


def _models(documents: list[Document], model: Any) -> list[Any]:
    """Records with the attributes the tallies read (the events' own fields; a model per
    record would cost more than all the rest of the generation)."""
    return [SimpleNamespace(**d) for d in documents]


SHAPES = {"coverage": tallies.COVERAGE, "guard": tallies.GUARD}


def day_rollups(records: dict[str, list[Document]], day: date) -> dict[str, list[Document]]:
    """The day's roll-up documents per collection, from its records."""
    checkins = _models(records[CHECKINS.collection], CheckinRecorded)
    visits = _models(records[VISITS.collection], PointVisited)
    windows = _models(
        [d | {"day": day} for d in records[GUARD_WINDOWS.collection]], GuardPostWindow
    )
    counted = {
        "coverage": tallies.coverage(checkins, visits, ZONE),
        "guard": tallies.guard(windows),
    }
    return {
        f"{name}_days": [
            rollups.document(SHAPES[name], school_id, day.isoformat(), facets)
            for school_id, facets in by_school.items()
        ]
        for name, by_school in counted.items()
    }


@dataclass
class Buckets:
    """The finer roll-up documents of a month (or a year) so far, per roll-up and school,
    summed into the coarser ones when it ends."""

    grain: str  # "months" or "years"
    parts: dict[str, dict[str, list[tallies.Facets]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )

    def add(self, found: dict[str, list[Document]]) -> None:
        for collection, documents in found.items():
            name = collection.rsplit("_", 1)[0]
            for doc in documents:
                facets = tallies.unflatten(SHAPES[name], doc)
                self.parts[name][doc["school_id"]].append(facets)

    def close(self, bucket: str) -> dict[str, list[Document]]:
        closed = {
            f"{name}_{self.grain}": [
                rollups.document(
                    SHAPES[name], school_id, bucket, tallies.merge(SHAPES[name], parts)
                )
                for school_id, parts in schools.items()
            ]
            for name, schools in self.parts.items()
        }
        self.parts.clear()
        return closed


async def _insert(db: AsyncDatabase[Document], found: dict[str, list[Document]]) -> None:
    for name, documents in found.items():
        for start in range(0, len(documents), 5000):
            await db[name].insert_many(documents[start : start + 5000], ordered=False)


def _make_day(state: Year, months: Buckets, years: Buckets, day: date) -> dict[str, list[Document]]:
    """A day's records and roll-ups, its month's on the month's last day, its year's on the
    year's."""
    found = day_of(state, day)
    rolled = day_rollups(found, day)
    months.add(rolled)
    found |= rolled
    tomorrow = day + timedelta(days=1)
    if tomorrow.month != day.month:
        month = months.close(rollups.MONTHS.bucket(day))
        years.add(month)
        found |= month
    if tomorrow.year != day.year:
        found |= years.close(rollups.YEARS.bucket(day))
    return found


async def populate(
    db: AsyncDatabase[Document], county: dict[str, Any], *, year: int, scale: float, seed: int
) -> dict[str, int]:
    """Write the year into `db` (emptied first); the number of documents per collection."""
    for name in await db.list_collection_names():
        await db.drop_collection(name)
    state = Year(
        rng=random.Random(seed),
        schools=county["schools"],
        units=[u["unit_id"] for u in county["units"]],
        year=year,
        scale=scale,
    )
    counts: dict[str, int] = defaultdict(int)
    months, years = Buckets("months"), Buckets("years")
    day, started = date(year, 1, 1), clock.monotonic()
    writing: asyncio.Task[None] | None = None  # a day is written while the next is made
    while day.year == year:
        # made in a thread: the GIL is free while the event loop waits on the server
        found = await asyncio.to_thread(_make_day, state, months, years, day)
        if writing is not None:
            await writing
        writing = asyncio.create_task(_insert(db, found))
        for name, documents in found.items():
            counts[name] += len(documents)
        if (day + timedelta(days=1)).month != day.month:
            total = sum(counts.values())
            print(
                f"[province] {day:%Y-%m}: {total:,} documents, {clock.monotonic() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        day += timedelta(days=1)
    if writing is not None:
        await writing
    print("[province] indexes ...", file=sys.stderr, flush=True)
    repo = MongoReportingRepository(db, zone=ZONE, townships=state.townships)
    await repo.ensure_indexes()  # faster built once, after
    print("[province] ledgers ...", file=sys.stderr, flush=True)
    counts |= await repo.rebuild_ledgers()  # from what was written, as an upgrade would
    return dict(counts)


def write_county(county: dict[str, Any], path: Path) -> None:
    """The provisioning file, as deploy/county.yaml is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        yaml.safe_dump(county, fh, allow_unicode=True, sort_keys=False, width=120)


async def _main(args: argparse.Namespace) -> None:
    county = province(args.scale, args.seed)
    write_county(county, args.county_file)
    client: AsyncMongoClient[Document] = AsyncMongoClient(args.mongodb_url, tz_aware=True)
    try:
        counts = await populate(
            client[args.database], county, year=args.year, scale=args.scale, seed=args.seed
        )
    finally:
        await client.close()
    for name, n in sorted(counts.items()):
        print(f"{name:20} {n:>12,}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mongodb-url", required=True)
    parser.add_argument("--database", default="safecampus_reporting")
    parser.add_argument("--county-file", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: the whole province")
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--seed", type=int, default=2026)
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
