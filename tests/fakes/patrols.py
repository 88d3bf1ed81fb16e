"""The in-memory fake of services.patrols.repository.PatrolRepository; held to the real one by
tests/contracts/test_patrols_repository.py."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from services.patrols.community import CommunityCheck, PersonRead
from services.patrols.guardposts import Calendar, RosterEntry
from services.patrols.models import PostWindowRecord, StoredFix, UnitState
from services.patrols.plans import SchoolPlan
from services.patrols.tracker import UnitTrack
from services.patrols.violations import Campaign, ViolationFilter
from services.patrols.visitors import GateVisit
from services.patrols.visits import Box, Sighting, Span
from shared.events import (
    CheckinRecorded,
    PositionReported,
    SchoolWindowPatrolled,
    UnitStatusChanged,
    ViolationRecorded,
    newest_per_unit,
)
from shared.events.hazards import HazardChanged, HazardState
from shared.mongo import Document
from shared.provisioning import Unit


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _fix_fields(fix: PositionReported) -> Document:
    return {
        "lat": fix.lat,
        "lon": fix.lon,
        "speed_kmh": fix.speed_kmh,
        "heading_deg": fix.heading_deg,
        "accuracy_m": fix.accuracy_m,
    }


class InMemoryPatrolRepository:
    def __init__(self) -> None:
        self.units: dict[str, UnitState] = {}
        self.fixes: dict[tuple[str, int], PositionReported] = {}
        self.campaign_records: dict[str, Campaign] = {}
        self.violation_records: dict[uuid.UUID, ViolationRecorded] = {}
        self.checkin_records: dict[uuid.UUID, CheckinRecorded] = {}
        self.calendar_record = Calendar()
        self.roster_records: dict[str, RosterEntry] = {}
        self.post_window_records: dict[str, PostWindowRecord] = {}
        self.tracks: dict[str, UnitTrack] = {}
        self.plan_records: dict[tuple[str, int], SchoolPlan] = {}
        self.unpublished: set[tuple[str, int]] = set()
        self.hazard_records: dict[uuid.UUID, HazardChanged] = {}
        self.hazards_unpublished: set[uuid.UUID] = set()
        self.community_records: dict[uuid.UUID, CommunityCheck] = {}
        self.community_unpublished: set[uuid.UUID] = set()
        self.read_records: list[PersonRead] = []
        self.visit_records: dict[uuid.UUID, GateVisit] = {}
        self.visits_unpublished: set[uuid.UUID] = set()
        self.window_records: dict[str, SchoolWindowPatrolled] = {}
        self.windows_unpublished: set[str] = set()

    async def ensure_indexes(self) -> None:
        return None

    async def insert_hazard(self, hazard: HazardChanged) -> bool:
        if hazard.hazard_id in self.hazard_records:
            return False
        self.hazard_records[hazard.hazard_id] = hazard
        self.hazards_unpublished.add(hazard.hazard_id)
        return True

    async def hazard(self, hazard_id: uuid.UUID) -> HazardChanged | None:
        return self.hazard_records.get(hazard_id)

    async def replace_hazard(self, hazard: HazardChanged) -> bool:
        held = self.hazard_records.get(hazard.hazard_id)
        if held is None or held.version != hazard.version - 1:
            return False
        self.hazard_records[hazard.hazard_id] = hazard
        self.hazards_unpublished.add(hazard.hazard_id)
        return True

    async def hazards(
        self, *, school_ids: list[str] | None, state: HazardState | None, limit: int
    ) -> list[HazardChanged]:
        found = [
            h
            for h in self.hazard_records.values()
            if (school_ids is None or h.school.school_id in school_ids)
            and (state is None or h.state == state)
        ]
        return sorted(found, key=lambda h: h.reported_at, reverse=True)[:limit]

    async def hazards_due(self, *, now: datetime) -> list[HazardChanged]:
        return [
            h
            for h in self.hazard_records.values()
            if h.state == "assigned" and h.deadline is not None and h.deadline < now
        ]

    async def hazard_published(self, hazard_id: uuid.UUID, version: int) -> None:
        held = self.hazard_records.get(hazard_id)
        if held is not None and held.version == version:
            self.hazards_unpublished.discard(hazard_id)

    async def unpublished_hazards(self, *, before: datetime) -> list[HazardChanged]:
        pending = (self.hazard_records[h] for h in self.hazards_unpublished)
        return [h for h in pending if h.occurred_at < before]

    async def visibility_keys(self, *, window_start: datetime) -> set[str]:
        records = self.window_records.values()
        return {w.school.school_id for w in records if w.window_start == window_start}

    async def insert_visibility(self, key: str, event: SchoolWindowPatrolled) -> bool:
        if key in self.window_records:
            return False
        self.window_records[key] = event
        self.windows_unpublished.add(key)
        return True

    async def visibility_published(self, key: str) -> None:
        self.windows_unpublished.discard(key)

    async def unpublished_visibility(self, *, before: datetime) -> list[SchoolWindowPatrolled]:
        pending = (self.window_records[k] for k in sorted(self.windows_unpublished))
        return [w for w in pending if w.occurred_at < before]

    async def insert_visit(self, visit: GateVisit) -> bool:
        if visit.visit_id in self.visit_records:
            return False
        self.visit_records[visit.visit_id] = visit
        self.visits_unpublished.add(visit.visit_id)
        return True

    async def visit(self, visit_id: uuid.UUID) -> GateVisit | None:
        return self.visit_records.get(visit_id)

    async def replace_visit(self, visit: GateVisit) -> bool:
        held = self.visit_records.get(visit.visit_id)
        if held is None or held.version != visit.version - 1:
            return False
        self.visit_records[visit.visit_id] = visit
        self.visits_unpublished.add(visit.visit_id)
        return True

    async def erase_visit(self, visit: GateVisit) -> None:
        held = self.visit_records.get(visit.visit_id)
        if held is not None and held.version == visit.version:
            self.visit_records[visit.visit_id] = visit

    async def visits(
        self, *, school_id: str, inside: bool | None, since: datetime | None, limit: int
    ) -> list[GateVisit]:
        found = [
            v
            for v in self.visit_records.values()
            if v.school.school_id == school_id
            and (inside is None or (v.left_at is None) == inside)
            and (since is None or v.arrived_at >= since)
        ]
        return sorted(found, key=lambda v: v.arrived_at, reverse=True)[:limit]

    async def visits_inside(self) -> list[GateVisit]:
        records = self.visit_records.values()
        return [v for v in records if v.left_at is None and not v.after_hours]

    async def visit_published(self, visit_id: uuid.UUID, version: int) -> None:
        held = self.visit_records.get(visit_id)
        if held is not None and held.version == version:
            self.visits_unpublished.discard(visit_id)

    async def unpublished_visits(self, *, before: datetime) -> list[GateVisit]:
        pending = (self.visit_records[v] for v in self.visits_unpublished)
        return [v for v in pending if v.changed_at < before]

    async def visits_to_erase(self, *, before: datetime, limit: int) -> list[GateVisit]:
        records = self.visit_records.values()
        due = [v for v in records if v.arrived_at < before and v.erased_at is None]
        return sorted(due, key=lambda v: v.arrived_at)[:limit]

    async def insert_check(self, check: CommunityCheck) -> bool:
        if check.check_id in self.community_records:
            return False
        self.community_records[check.check_id] = check
        self.community_unpublished.add(check.check_id)
        return True

    async def check(self, check_id: uuid.UUID) -> CommunityCheck | None:
        return self.community_records.get(check_id)

    async def checks(
        self, *, school_ids: list[str] | None, since: datetime | None, limit: int
    ) -> list[CommunityCheck]:
        found = [
            c
            for c in self.community_records.values()
            if (school_ids is None or c.school.school_id in school_ids)
            and (since is None or c.checked_at >= since)
        ]
        return sorted(found, key=lambda c: c.checked_at, reverse=True)[:limit]

    async def checks_with_person(self, id_hash: str) -> list[CommunityCheck]:
        found = [
            c
            for c in self.community_records.values()
            if any(p.id_hash == id_hash for p in c.people)
        ]
        return sorted(found, key=lambda c: c.checked_at, reverse=True)

    async def check_published(self, check_id: uuid.UUID) -> None:
        self.community_unpublished.discard(check_id)

    async def unpublished_checks(self, *, before: datetime) -> list[CommunityCheck]:
        pending = (self.community_records[c] for c in self.community_unpublished)
        return [c for c in pending if c.checked_at < before]

    async def checks_to_erase(self, *, before: datetime, limit: int) -> list[CommunityCheck]:
        due = [
            c
            for c in self.community_records.values()
            if c.checked_at < before and c.erased_at is None
        ]
        return sorted(due, key=lambda c: c.checked_at)[:limit]

    async def erase_people(self, check: CommunityCheck) -> None:
        self.community_records[check.check_id] = check

    async def audit_read(self, read: PersonRead) -> None:
        self.read_records.append(read)

    async def person_reads(
        self, *, since: datetime | None, actor: str | None, limit: int
    ) -> list[PersonRead]:
        found = [
            r
            for r in self.read_records
            if (since is None or r.at >= since) and (actor is None or r.actor == actor)
        ]
        return sorted(found, key=lambda r: r.at, reverse=True)[:limit]

    async def insert_plan(self, plan: SchoolPlan) -> bool:
        key = (plan.school_id, plan.version)
        if key in self.plan_records:
            return False
        self.plan_records[key] = plan
        self.unpublished.add(key)
        return True

    async def plan(self, school_id: str, version: int | None = None) -> SchoolPlan | None:
        versions = await self.plan_versions(school_id)
        if version is None:
            return versions[-1] if versions else None
        return self.plan_records.get((school_id, version))

    async def plan_versions(self, school_id: str) -> list[SchoolPlan]:
        return sorted(
            (p for (s, _), p in self.plan_records.items() if s == school_id),
            key=lambda p: p.version,
        )

    async def plan_published(self, school_id: str, version: int) -> None:
        self.unpublished.discard((school_id, version))

    async def unpublished_plans(self, *, before: datetime) -> list[SchoolPlan]:
        pending = (self.plan_records[k] for k in sorted(self.unpublished))
        return [p for p in pending if p.edited_at < before]

    async def provision_units(self, units: list[Unit]) -> None:
        for unit in units:
            self.units.setdefault(
                unit.unit_id,
                UnitState(unit_id=unit.unit_id, kind=unit.kind, callsign=unit.callsign),
            )

    async def record_positions(self, fixes: list[PositionReported]) -> int:
        new = {(f.unit_id, _epoch_ms(f.recorded_at)): f for f in fixes}.keys() - self.fixes.keys()
        for fix in fixes:
            self.fixes[(fix.unit_id, _epoch_ms(fix.recorded_at))] = fix
        return len(new)

    async def move_units(self, fixes: list[PositionReported]) -> None:
        for fix in newest_per_unit(fixes):
            unit = self.units.get(fix.unit_id)
            if unit is not None and (
                unit.recorded_at is None or unit.recorded_at < fix.recorded_at
            ):
                self.units[fix.unit_id] = unit.model_copy(
                    update={"lat": fix.lat, "lon": fix.lon, "recorded_at": fix.recorded_at}
                )

    async def history(self, unit_id: str, *, since: datetime, until: datetime) -> list[StoredFix]:
        return [
            StoredFix(recorded_at=fix.recorded_at, **_fix_fields(fix))
            for (unit, _), fix in sorted(self.fixes.items())
            if unit == unit_id and since <= fix.recorded_at < until
        ]

    async def get_unit(self, unit_id: str) -> UnitState | None:
        return self.units.get(unit_id)

    async def newest_in_history(self, unit_ids: list[str]) -> list[PositionReported]:
        newest: dict[str, PositionReported] = {}
        for (unit_id, _), fix in sorted(self.fixes.items()):
            if unit_id in unit_ids:
                newest[unit_id] = fix
        return list(newest.values())

    async def fixes_in_box(self, box: Box, units: list[str], span: Span) -> list[Sighting]:
        since, until = span
        return [
            (f.unit_id, f.recorded_at, f.lat, f.lon)
            for f in self.fixes.values()
            if f.unit_id in units and since <= f.recorded_at < until and box.holds(f.lat, f.lon)
        ]

    async def prune_history(self, *, unit_ids: list[str], before: datetime) -> int:
        old = [k for k, f in self.fixes.items() if f.unit_id in unit_ids and f.recorded_at < before]
        for key in old:
            del self.fixes[key]
        return len(old)

    async def set_status(self, unit: UnitState, event: UnitStatusChanged) -> bool:
        current = self.units[unit.unit_id]
        if current.status_version != unit.status_version:
            return False
        self.units[unit.unit_id] = current.model_copy(
            update={
                "status": event.status,
                "status_since": event.occurred_at,
                "status_version": event.version,
                "outbox": [*current.outbox, event],
            }
        )
        return True

    async def pull_status_event(self, unit_id: str, event_id: uuid.UUID) -> None:
        unit = self.units[unit_id]
        outbox = [e for e in unit.outbox if e.event_id != event_id]
        self.units[unit_id] = unit.model_copy(update={"outbox": outbox})

    async def units_with_outbox(self) -> list[UnitState]:
        return [u for u in self.units.values() if u.outbox]

    async def add_campaign(self, campaign: Campaign) -> bool:
        if campaign.campaign_id in self.campaign_records:
            return False
        self.campaign_records[campaign.campaign_id] = campaign
        return True

    async def campaign(self, campaign_id: str) -> Campaign | None:
        return self.campaign_records.get(campaign_id)

    async def campaigns(self) -> list[Campaign]:
        return sorted(self.campaign_records.values(), key=lambda c: c.starts_on, reverse=True)

    async def store_violation(self, event: ViolationRecorded) -> None:
        self.violation_records.setdefault(event.violation_id, event)

    async def violations(self, query: ViolationFilter) -> list[ViolationRecorded]:
        found = [v for v in self.violation_records.values() if query.matches(v)]
        return sorted(found, key=lambda v: v.observed_at, reverse=True)[: query.limit]

    async def store_checkin(self, event: CheckinRecorded) -> None:
        self.checkin_records.setdefault(event.checkin_id, event)

    async def checkins(
        self, point_id: str, *, since: datetime, until: datetime
    ) -> list[CheckinRecorded]:
        found = [
            c
            for c in self.checkin_records.values()
            if c.point_id == point_id and since <= c.at < until
        ]
        return sorted(found, key=lambda c: c.at)

    async def calendar(self) -> Calendar:
        return self.calendar_record

    async def save_calendar(self, calendar: Calendar) -> None:
        self.calendar_record = calendar

    async def add_roster_entry(self, entry: RosterEntry) -> str:
        entry_id = f"{entry.unit_id}:{entry.post_id}:{entry.valid_from}"
        self.roster_records[entry_id] = entry
        return entry_id

    async def roster(self, *, unit_id: str | None = None) -> list[tuple[str, RosterEntry]]:
        return [(k, e) for k, e in self.roster_records.items() if unit_id in (None, e.unit_id)]

    async def post_window(self, key: str) -> PostWindowRecord | None:
        return self.post_window_records.get(key)

    async def save_post_window(self, record: PostWindowRecord) -> None:
        self.post_window_records[record.key] = record

    async def post_windows_on(self, day: date) -> list[PostWindowRecord]:
        found = [r for r in self.post_window_records.values() if r.day == day]
        return sorted(found, key=lambda r: r.window_start)

    async def load_tracks(self, unit_ids: list[str]) -> dict[str, UnitTrack]:
        return {u: self.tracks[u] for u in unit_ids if u in self.tracks}

    async def save_tracks(self, tracks: dict[str, UnitTrack]) -> None:
        self.tracks.update(tracks)
