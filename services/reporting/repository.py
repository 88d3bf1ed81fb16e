"""Persistence of reporting read models: MongoDB, and a fake for unit tests."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any, Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.reporting import ledgers, rollups, tallies
from services.reporting.devices import TroubleSpan, spans_of
from services.reporting.ledgers import LedgerStore
from services.reporting.models import AlarmFact, SchoolAlarmCount
from services.reporting.rollups import Load, Rollup, RollupStore, Stale
from services.reporting.tallies import (
    AlarmTally,
    Facets,
    Fields,
    ViolationKey,
)
from shared.events import (
    ActivityRecorded,
    AlarmLifecycle,
    CampaignOpened,
    CheckinRecorded,
    CommunityCheckRecorded,
    DeviceTrouble,
    Event,
    GateVisitChanged,
    GuardPostWindow,
    HazardChanged,
    PointVisited,
    SchoolWindowPatrolled,
    VideoCheckRecorded,
    ViolationRecorded,
)
from shared.mongo import Document, to_document
from shared.period import Period

R = TypeVar("R", bound=Event)


@dataclass(frozen=True)
class DayCounts:
    """What a trend counts of one county day: guard-post windows judged, those staffed, and
    violations."""

    windows: int = 0
    staffed: int = 0
    violations: int = 0
    school_windows: int = 0  # schools' rush-hour windows worked out (police visibility)
    seen: int = 0  # of them, with a unit near


def day_span(query: Period, zone: ZoneInfo) -> tuple[date, date]:
    """The county days [first, end) of a period that starts and ends at their midnights."""
    if query.since is None or query.until is None:
        raise ValueError("a day-by-day read needs both ends of its period")
    first, end = tallies.local_day(query.since, zone), tallies.local_day(query.until, zone)
    if query.until.astimezone(zone).time() != time(0):
        end += timedelta(days=1)
    return first, end


class ReportingRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def record_alarm(self, event: AlarmLifecycle, *, stale: set[Stale] | None = None) -> None:
        """The alarm's fact; given `stale`, the ledger days it changed are added to it for
        `refresh`, else recomputed at once."""

    async def alarms_by_school(
        self, *, since: datetime | None, until: datetime | None, township: str | None
    ) -> list[SchoolAlarmCount]: ...

    async def alarm_facts(self, query: FactFilter) -> list[AlarmFact]: ...

    async def store(
        self, kind: RecordKind[R], record: R, *, stale: set[Stale] | None = None
    ) -> None:
        """The record, once; `stale` as for record_alarm."""

    async def refresh(self, stale: set[Stale]) -> None:
        """Recompute the roll-up and ledger days that stores left stale."""

    async def records(self, kind: RecordKind[R], query: RecordFilter) -> list[R]: ...

    async def daily(self, query: RecordFilter) -> dict[date, DayCounts]:
        """Per county day of the period's whole days (day_span), for trends."""

    async def coverage(self, query: RecordFilter) -> dict[str, Fields]:
        """Each school's coverage tally in the period, of the query's point kind (all: None)."""
        ...

    async def guard(self, query: RecordFilter) -> dict[str, Facets]:
        """Each school's staffing tally per window in the period (only the query's window)."""
        ...

    async def visibility(self, query: RecordFilter) -> dict[str, Facets]:
        """Each school's police visibility tally per window (only the query's window)."""
        ...

    async def violation_counts(self, query: RecordFilter) -> Counter[ViolationKey]:
        """Violations in the period per (campaign id, campaign name, kind)."""
        ...

    async def alarm_tally(self, query: FactFilter) -> AlarmTally: ...

    async def trouble_spans(self, query: RecordFilter) -> list[TroubleSpan]:
        """The troubles of the query's schools overlapping its period (TroubleSpan.overlaps),
        by raise time."""
        ...

    async def activity_ledger(self, query: RecordFilter) -> tallies.Ledger:
        """What the inspections and outreach reports count (tallies.activity_ledger)."""
        ...


@dataclass(frozen=True)
class RecordKind(Generic[R]):
    """A read model kept as one document per event, keyed by the event's own id, so a
    redelivery or a replay changes nothing: the collection, the event type, its time field
    (the period filter), and the field the report's `kind` filter reads."""

    collection: str
    model: type[R]
    key: Callable[[R], str]
    time_field: str
    kind_field: str
    school_field: str = "school_id"

    def time_of(self, record: R) -> datetime:
        value: datetime = getattr(record, self.time_field)
        return value

    def kind_of(self, record: R) -> str:
        return str(_dotted(record, self.kind_field))

    def school_of(self, record: R) -> str | None:
        value = _dotted(record, self.school_field)
        return None if value is None else str(value)


def _dotted(record: object, path: str) -> object:
    value: object = record
    for part in path.split("."):
        value = getattr(value, part, None)
    return value


VIOLATIONS = RecordKind(
    "violations", ViolationRecorded, lambda e: str(e.violation_id), "observed_at", "kind"
)
CHECKINS = RecordKind("checkins", CheckinRecorded, lambda e: str(e.checkin_id), "at", "point_kind")
CAMPAIGNS = RecordKind(
    "campaigns", CampaignOpened, lambda e: e.campaign_id, "occurred_at", "campaign_id"
)
VISITS = RecordKind("visits", PointVisited, lambda e: str(e.visit_id), "arrived_at", "point_kind")
GUARD_WINDOWS = RecordKind(
    "guard_windows",
    GuardPostWindow,
    lambda e: f"{e.post_id}|{e.day.isoformat()}|{e.window}",
    "window_start",
    "window",
)
ACTIVITIES = RecordKind(
    "activities", ActivityRecorded, lambda e: str(e.activity_id), "held_at", "activity.kind"
)
TROUBLES = RecordKind(
    "device_troubles",
    DeviceTrouble,
    lambda e: str(e.event_id),
    "occurred_at",
    "kind",
    school_field="school.school_id",
)
# every change of a hazard, once (key: hazard and version); a report takes each hazard's newest
HAZARDS = RecordKind(
    "hazards",
    HazardChanged,
    lambda e: f"{e.hazard_id}|{e.version}",
    "reported_at",
    "kind",
    school_field="school.school_id",
)
VIDEO_CHECKS = RecordKind(
    "video_checks",
    VideoCheckRecorded,
    lambda e: str(e.check_id),
    "at",
    "traffic",
    school_field="school.school_id",
)
COMMUNITY_CHECKS = RecordKind(
    "community_checks",
    CommunityCheckRecorded,
    lambda e: str(e.check_id),
    "checked_at",
    "premises_kind",
    school_field="school.school_id",
)
# every change of a visit, once (key: visit and version); a report takes each visit's newest
GATE_VISITS = RecordKind(
    "gate_visits",
    GateVisitChanged,
    lambda e: f"{e.visit_id}|{e.version}",
    "arrived_at",
    "purpose",
    school_field="school.school_id",
)
# each school's rush-hour window once ended (key: school and window start)
VISIBILITY = RecordKind(
    "school_windows",
    SchoolWindowPatrolled,
    lambda e: f"{e.school.school_id}|{e.window_start.astimezone(UTC).isoformat()}",
    "window_start",
    "window",
    school_field="school.school_id",
)
SPANS = "trouble_spans"  # one per trouble_id, from its events (devices.TroubleSpan)
RECORD_KINDS: tuple[RecordKind[Any], ...] = (
    TROUBLES,
    VIOLATIONS,
    CHECKINS,
    VISITS,
    GUARD_WINDOWS,
    ACTIVITIES,
    HAZARDS,
    VIDEO_CHECKS,
    COMMUNITY_CHECKS,
    GATE_VISITS,
    VISIBILITY,
)


@dataclass(frozen=True, kw_only=True)
class RecordFilter(Period):
    """Records in the period by their time field, of these schools (None: all) and kind.
    `township`: the schools are that township's (its ledgers stand for their records)."""

    school_ids: frozenset[str] | None = None
    kind: str | None = None
    township: str | None = None

    def admits(self, kind: RecordKind[Any], record: Any) -> bool:
        at = kind.time_of(record)
        school_id = kind.school_of(record)
        return (
            self.holds(at)
            and (self.school_ids is None or school_id in self.school_ids)
            and (self.kind is None or kind.kind_of(record) == self.kind)
        )


@dataclass(frozen=True, kw_only=True)
class FactFilter(Period):
    """Alarms raised in the period, optionally of one township, school or kind."""

    township: str | None = None
    school_id: str | None = None
    kind: str | None = None


CLOSED_STATES = ("resolved", "cancelled")


def coverage_facet(query: RecordFilter) -> str:
    return query.kind or tallies.ALL


def guard_facets(query: RecordFilter) -> tuple[str, ...]:
    return (query.kind,) if query.kind else tallies.WINDOWS


DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


def _coverage_tally(zone: ZoneInfo, sources: Sequence[Sequence[Any]]) -> tallies.Tallies:
    checkins, visits = sources
    return tallies.coverage(checkins, visits, zone)


def _guard_tally(sources: Sequence[Sequence[Any]]) -> tallies.Tallies:
    (windows,) = sources
    return tallies.guard(windows)


def _seen_tally(sources: Sequence[Sequence[Any]]) -> tallies.Tallies:
    (windows,) = sources
    return tallies.seen(windows)


def _each_school(query: RecordFilter) -> list[RecordFilter] | None:
    """The query once per school when it names several: SecantusDB's server runs `$in` over a
    compound index slowly, equality quickly (docs/benchmarks.md). None: run it as it is."""
    if query.school_ids is None or not 1 < len(query.school_ids) <= rollups.PER_SCHOOL_MAX:
        return None
    return [replace(query, school_ids=frozenset({s})) for s in sorted(query.school_ids)]


def _owner_of(kind: RecordKind[Any], townships: Mapping[str, str], record: Any) -> str:
    return ledgers.owner(kind.school_of(record), townships)


def _campaign_owner_of(townships: Mapping[str, str], record: ViolationRecorded) -> str:
    campaign_id = record.campaign.campaign_id if record.campaign else None
    return ledgers.campaign_owner(campaign_id, ledgers.owner(record.school_id, townships))


def _span(doc: Document) -> TroubleSpan:
    return TroubleSpan(
        trouble_id=doc["_id"],
        device_id=doc["device_id"],
        school_id=doc["school_id"],
        kind=doc["kind"],
        since=doc["since"],
        raised_at=doc["raised_at"],
        restored_at=doc.get("restored_at"),
    )


def _span_document(span: TroubleSpan) -> Document:
    fields = dataclasses.asdict(span)
    doc = {"_id": fields.pop("trouble_id")} | fields
    if span.restored_at is None:  # as a raise alone leaves it
        del doc["restored_at"]
    return doc


def _township_of(fact: AlarmFact) -> str:
    return ledgers.township_owner(fact.township)


def _raised_at(fact: AlarmFact) -> datetime:
    if fact.raised_at is None:
        raise ValueError(f"alarm {fact.alarm_id} has no raise: it is not reported")
    return fact.raised_at


class MongoReportingRepository:
    """`alarm_facts`: one document per alarm (_id alarm_id), so replays give the same figures."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        *,
        zone: ZoneInfo = DEFAULT_ZONE,
        townships: Mapping[str, str] | None = None,
    ) -> None:
        """`townships`: each school's township (the provisioning file's), the ledgers' owners."""
        self._db = db
        self._zone = zone
        self._facts = db["alarm_facts"]
        self._spans = db[SPANS]
        self._townships = dict(townships or {})
        self._schools_of: dict[str, frozenset[str]] = {}
        for school_id, township in self._townships.items():
            self._schools_of[township] = self._schools_of.get(township, frozenset()) | {school_id}
        coverage = Rollup("coverage", tallies.COVERAGE, partial(_coverage_tally, zone))
        self._coverage = RollupStore(db, coverage, zone, self._loader(CHECKINS, VISITS))
        guard = Rollup("guard", tallies.GUARD, _guard_tally)
        self._guard = RollupStore(db, guard, zone, self._loader(GUARD_WINDOWS))
        seen = Rollup("visibility", tallies.SEEN, _seen_tally)
        self._seen = RollupStore(db, seen, zone, self._loader(VISIBILITY))
        self._rollups = {
            CHECKINS.collection: self._coverage,
            VISITS.collection: self._coverage,
            GUARD_WINDOWS.collection: self._guard,
            VISIBILITY.collection: self._seen,
        }
        self._violations_of = self._owned(VIOLATIONS)
        self._violations = LedgerStore(
            db, "violation_ledger", zone, self._violations_of, tallies.violation_ledger
        )
        self._campaigns = LedgerStore(
            db, "violation_campaign_ledger", zone, self._campaign_owned, tallies.violation_ledger
        )
        self._activities = LedgerStore(
            db, "activity_ledger", zone, self._owned(ACTIVITIES), tallies.activity_ledger
        )
        self._alarms = LedgerStore(db, "alarm_ledger", zone, self._facts_of, tallies.alarm_ledger)
        self._ledgers = {
            VIOLATIONS.collection: self._violations,
            ACTIVITIES.collection: self._activities,
        }
        self._province_ledgers = {VIOLATIONS.collection: self._campaigns}

    async def ensure_indexes(self) -> None:
        await self._facts.create_index([("raised_at", ASCENDING)])
        await self._facts.create_index([("township", ASCENDING), ("raised_at", ASCENDING)])
        for kind in RECORD_KINDS:
            collection = self._db[kind.collection]
            await collection.create_index([(kind.time_field, ASCENDING)])
            await collection.create_index(
                [(kind.school_field, ASCENDING), (kind.time_field, ASCENDING)]
            )
        await self._db[VIOLATIONS.collection].create_index(
            [("campaign.campaign_id", ASCENDING), (VIOLATIONS.time_field, ASCENDING)]
        )
        await self._spans.create_index([("raised_at", ASCENDING)])
        await self._spans.create_index([("school_id", ASCENDING), ("raised_at", ASCENDING)])
        ledgers_kept = (*self._ledgers.values(), self._campaigns, self._alarms)
        rollups_kept = dict.fromkeys(self._rollups.values())  # coverage serves two kinds
        for store in (*rollups_kept, *ledgers_kept):
            await store.ensure_indexes()

    async def store(
        self, kind: RecordKind[R], record: R, *, stale: set[Stale] | None = None
    ) -> None:
        """Insert once: the same event again (redelivery, replay) changes nothing; then the
        roll-up and ledger days it counts in are recomputed, at once or by the caller's
        `refresh` (after a crash before that, the redelivery recomputes them)."""
        document = to_document(record)
        await self._db[kind.collection].update_one(
            {"_id": kind.key(record)}, {"$setOnInsert": document}, upsert=True
        )
        if isinstance(record, DeviceTrouble):
            await self._keep_span(record)
        await self._refresh_or_add(self._stale_of(kind, record), stale)

    def _stale_of(self, kind: RecordKind[R], record: R) -> set[Stale]:
        """The roll-up and ledger days a stored record counts in."""
        at = kind.time_of(record)
        found: set[Stale] = set()
        rollup = self._rollups.get(kind.collection)
        school_id = kind.school_of(record)
        if rollup is not None and school_id is not None:
            found.add(rollup.stale(school_id, at))
        ledger = self._ledgers.get(kind.collection)
        if ledger is not None:
            found.add(ledger.stale(ledgers.owner(school_id, self._townships), at))
        if isinstance(record, ViolationRecorded):
            found.add(self._campaigns.stale(_campaign_owner_of(self._townships, record), at))
        return found

    async def _refresh_or_add(self, found: set[Stale], stale: set[Stale] | None) -> None:
        if stale is None:
            await rollups.refresh(found)
        else:
            stale |= found

    async def refresh(self, stale: set[Stale]) -> None:
        await rollups.refresh(stale)

    def _owned(self, kind: RecordKind[Any]) -> ledgers.LoadOwned:
        async def load(hours: Period, owner: str | None) -> list[Any]:
            period = RecordFilter(since=hours.since, until=hours.until)
            if owner is None:
                return await self.records(kind, period)
            if owner == ledgers.NO_SCHOOL:
                match = hours.mongo(kind.time_field) | {kind.school_field: None}
                cursor = self._db[kind.collection].find(match, {"_id": 0})
                return [kind.model.model_validate(doc) async for doc in cursor]
            of, name = owner.split(":", 1)
            schools = self._schools_of[name] if of == "t" else frozenset({name})
            return await self.records(kind, replace(period, school_ids=schools))

        return load

    async def _campaign_owned(self, hours: Period, owner: str | None) -> list[Any]:
        """The violations a campaign ledger's owner counts (ledgers.campaign_owner)."""
        if owner is None or not owner.startswith("c:"):
            found = await self._violations_of(hours, owner)
            return list(found) if owner is None else [v for v in found if v.campaign is None]
        match = hours.mongo(VIOLATIONS.time_field) | {"campaign.campaign_id": owner[2:]}
        cursor = self._db[VIOLATIONS.collection].find(match, {"_id": 0})
        return [ViolationRecorded.model_validate(doc) async for doc in cursor]

    async def _facts_of(self, hours: Period, owner: str | None) -> list[AlarmFact]:
        township = None if owner is None else owner.removeprefix("t:")
        return await self.alarm_facts(
            FactFilter(since=hours.since, until=hours.until, township=township)
        )

    async def rebuild_ledgers(self) -> dict[str, int]:
        """Every ledger and trouble span anew from the stored records and alarm facts (a bulk
        load, or an upgrade while no instance stores records): the documents written per
        ledger and the spans."""
        written: dict[str, int] = {}
        for kind in (VIOLATIONS, ACTIVITIES):
            cursor = self._db[kind.collection].find({}, {"_id": 0})
            records = [kind.model.model_validate(doc) async for doc in cursor]
            store = self._ledgers[kind.collection]
            written[store.name] = await store.rebuild(
                records, partial(_owner_of, kind, self._townships), kind.time_of
            )
            if kind is VIOLATIONS:
                written[self._campaigns.name] = await self._campaigns.rebuild(
                    records, partial(_campaign_owner_of, self._townships), kind.time_of
                )
        facts = await self.alarm_facts(FactFilter())
        written[self._alarms.name] = await self._alarms.rebuild(facts, _township_of, _raised_at)
        written[SPANS] = await self._rebuild_spans()
        return written

    async def _ledger(self, kind: RecordKind[Any], query: RecordFilter) -> tallies.Ledger:
        """From the ledgers for every school or a township the repository knows; from the
        records for schools named one by one."""
        store = self._ledgers[kind.collection]
        if query.school_ids is None:
            whole = self._province_ledgers.get(kind.collection, store)
            return await whole.ledger(query, None)
        township = query.township
        if township is not None and query.school_ids == self._schools_of.get(township):
            return await store.ledger(query, ledgers.township_owner(township))
        return store.count(await self.records(kind, replace(query, kind=None)))

    def _loader(self, *kinds: RecordKind[Any]) -> Load:
        async def load(hours: Period, school_ids: frozenset[str] | None) -> list[list[Any]]:
            query = RecordFilter(since=hours.since, until=hours.until, school_ids=school_ids)
            return [await self.records(kind, query) for kind in kinds]

        return load

    async def coverage(self, query: RecordFilter) -> dict[str, Fields]:
        facet = coverage_facet(query)
        found = await self._coverage.tallies(query, query.school_ids, [facet])
        return {school_id: facets[facet] for school_id, facets in found.items()}

    async def guard(self, query: RecordFilter) -> dict[str, Facets]:
        return await self._guard.tallies(query, query.school_ids, guard_facets(query))

    async def visibility(self, query: RecordFilter) -> dict[str, Facets]:
        return await self._seen.tallies(query, query.school_ids, guard_facets(query))

    async def violation_counts(self, query: RecordFilter) -> Counter[ViolationKey]:
        return tallies.violation_counts(await self._ledger(VIOLATIONS, query), query.kind)

    async def trouble_spans(self, query: RecordFilter) -> list[TroubleSpan]:
        if (each := _each_school(query)) is not None:
            found = [span for one in each for span in await self.trouble_spans(one)]
            return sorted(found, key=lambda span: span.raised_at)
        match: Document = {}  # the school first: after the `$not`, SecantusDB's server scans all
        if query.school_ids is not None:
            ids = sorted(query.school_ids)
            match["school_id"] = ids[0] if len(ids) == 1 else {"$in": ids}
        match["raised_at"] = {"$lt": query.until} if query.until else {"$ne": None}
        if query.since is not None:  # restored before the period: nothing left to count
            match["restored_at"] = {"$not": {"$lt": query.since}}
        cursor = self._spans.find(match).sort("raised_at", ASCENDING)
        return [_span(doc) async for doc in cursor]

    async def _keep_span(self, trouble: DeviceTrouble) -> None:
        """Its raise or restoral into the trouble's span (the earliest of each wins, so a
        redelivery or a repeat changes nothing, in any order)."""
        if trouble.status not in ("raised", "restored"):
            return
        update: Document = {
            "$setOnInsert": {
                "device_id": trouble.device_id,
                "school_id": trouble.school.school_id,
                "kind": trouble.kind,
            },
            "$min": {f"{trouble.status}_at": trouble.occurred_at},
        }
        if trouble.status == "raised":
            update["$min"]["since"] = trouble.since
        for attempt in range(2):
            try:
                await self._spans.update_one({"_id": str(trouble.trouble_id)}, update, upsert=True)
                return
            except DuplicateKeyError:  # another instance created it first: now it matches
                if attempt:
                    raise

    async def _rebuild_spans(self) -> int:
        """Every trouble span anew from the stored trouble events: the spans written."""
        cursor = self._db[TROUBLES.collection].find({}, {"_id": 0})
        events = [DeviceTrouble.model_validate(doc) async for doc in cursor]
        return await ledgers.rewrite(self._spans, [_span_document(s) for s in spans_of(events)])

    async def daily(self, query: RecordFilter) -> dict[date, DayCounts]:
        """From the day documents of the guard-post roll-up and the violation ledger (a
        scope's named schools: from their violations)."""
        days = day_span(query, self._zone)
        guard = await self._guard.daily(days, query.school_ids, ("windows", "staffed"))
        seen = await self._seen.daily(days, query.school_ids, ("windows", "seen"))
        violations = await self._violations_by_day(query, days)
        found: dict[date, DayCounts] = {}
        for day in {*(date.fromisoformat(d) for d in guard | seen), *violations}:
            sums = guard.get(day.isoformat(), Counter())
            looked = seen.get(day.isoformat(), Counter())
            found[day] = DayCounts(
                sums["windows"],
                sums["staffed"],
                violations.get(day, 0),
                looked["windows"],
                looked["seen"],
            )
        return found

    async def _violations_by_day(
        self, query: RecordFilter, days: tuple[date, date]
    ) -> dict[date, int]:
        township = query.township
        owner: str | None = None  # every school's: every owner's ledger
        if township is not None and query.school_ids == self._schools_of.get(township):
            owner = ledgers.township_owner(township)
        if query.school_ids is None or owner is not None:
            found = await self._violations.daily(days, owner)
            return {
                date.fromisoformat(d): sum(ledger.counts.values()) for d, ledger in found.items()
            }
        counted: Counter[date] = Counter()
        for record in await self.records(VIOLATIONS, query):
            counted[tallies.local_day(record.observed_at, self._zone)] += 1
        return dict(counted)

    async def alarm_tally(self, query: FactFilter) -> AlarmTally:
        """From the ledgers for every school or a township; from the facts for one school."""
        if query.school_id is not None:
            return tallies.alarms(await self.alarm_facts(query))
        owner = None if query.township is None else ledgers.township_owner(query.township)
        return tallies.alarm_tally(await self._alarms.ledger(query, owner), query.kind)

    async def activity_ledger(self, query: RecordFilter) -> tallies.Ledger:
        return await self._ledger(ACTIVITIES, query)

    def _fact_match(self, query: FactFilter) -> Document:
        match = query.mongo("raised_at")
        match.setdefault("raised_at", {"$exists": True})
        for field in ("township", "school_id", "kind"):
            if getattr(query, field) is not None:
                match[field] = getattr(query, field)
        return match

    def _match(self, kind: RecordKind[Any], query: RecordFilter) -> Document:
        match = query.mongo(kind.time_field)
        if query.school_ids is not None:
            ids = sorted(query.school_ids)
            match[kind.school_field] = ids[0] if len(ids) == 1 else {"$in": ids}
        if query.kind is not None:
            match[kind.kind_field] = query.kind
        return match

    async def records(self, kind: RecordKind[R], query: RecordFilter) -> list[R]:
        if (each := _each_school(query)) is not None:
            found = [record for one in each for record in await self.records(kind, one)]
            return sorted(found, key=kind.time_of)
        match = self._match(kind, query)
        cursor = self._db[kind.collection].find(match, {"_id": 0}).sort(kind.time_field, 1)
        return [kind.model.model_validate(doc) async for doc in cursor]

    async def record_alarm(self, event: AlarmLifecycle, *, stale: set[Stale] | None = None) -> None:
        if event.change == "folded":  # another press joined: not a transition
            await self._facts.update_one(
                {"_id": str(event.alarm_id)}, {"$max": {"press_count": event.press_count}}
            )
            return
        update: Document = {
            "$setOnInsert": {
                "school_id": event.school.school_id,
                "school_name": event.school.name,
                "township": event.school.township,
                "kind": event.kind,
                "test": event.test,
            },
            "$min": {f"states.{event.state}": event.occurred_at},
            "$max": {"press_count": event.press_count},
        }
        if event.state == "raised":
            update["$min"]["raised_at"] = event.occurred_at
            update["$min"]["pressed_at"] = event.pressed_at
        if event.state in CLOSED_STATES:  # one of them, once: the alarm's end
            update["$set"] = {"closed": event.state, "outcome": event.outcome}
        fact = await self._facts.find_one_and_update(
            {"_id": str(event.alarm_id)},
            update,
            {"raised_at": 1, "township": 1},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if fact is None:  # upserted, so never: but say so rather than count nothing
            raise RuntimeError(f"alarm fact {event.alarm_id} not written")
        if event.state not in tallies.TALLIED_STATES:  # nothing the ledger counts changed
            return
        if fact.get("raised_at") is not None:  # else counted once its raise is recorded
            owner = ledgers.township_owner(fact["township"])
            await self._refresh_or_add({self._alarms.stale(owner, fact["raised_at"])}, stale)

    async def alarms_by_school(
        self, *, since: datetime | None, until: datetime | None, township: str | None
    ) -> list[SchoolAlarmCount]:
        period = Period(since=since, until=until)
        match = period.mongo("raised_at") | ({"township": township} if township else {})
        match.setdefault("raised_at", {"$exists": True})
        pipeline: list[Document] = [
            {"$match": match},
            {
                "$group": {
                    "_id": "$school_id",
                    "name": {"$first": "$school_name"},
                    "township": {"$first": "$township"},
                    "alarms": {"$sum": {"$cond": ["$test", 0, 1]}},
                    "tests": {"$sum": {"$cond": ["$test", 1, 0]}},
                }
            },
            {"$sort": {"_id": 1}},
        ]
        cursor = await self._facts.aggregate(pipeline)
        return [
            SchoolAlarmCount.model_validate(doc | {"school_id": doc["_id"]}) async for doc in cursor
        ]

    async def alarm_facts(self, query: FactFilter) -> list[AlarmFact]:
        match = self._fact_match(query)
        return [
            AlarmFact(
                alarm_id=doc["_id"],
                school_id=doc["school_id"],
                township=doc["township"],
                kind=doc["kind"],
                test=doc["test"],
                pressed_at=doc.get("pressed_at", doc["raised_at"]),
                states=doc.get("states", {}),
                closed=doc.get("closed"),
                outcome=doc.get("outcome"),
                raised_at=doc["raised_at"],
            )
            async for doc in self._facts.find(match).sort("raised_at", ASCENDING)
        ]
