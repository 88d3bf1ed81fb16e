"""Visitors at schools' gates: in (stored, then published), out (a new version), flagged when
still inside at closing time (a round), personal fields erased after retention. Each change is
stored on its version, then published whole on patrols.gate-visits; the relay finishes a crash."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from services.patrols import visitors as rules
from services.patrols.deps import Deps
from services.patrols.visitors import (
    LONGEST_STAY,
    GateVisit,
    VisitorArrival,
    VisitorDeparture,
)
from shared.errors import InvalidInput, field_error
from shared.mongo import to_milliseconds

RELAY_AFTER = timedelta(seconds=5)  # younger unpublished changes are still their request's
ERASE_BATCH = 500


class VisitRefused(Exception):
    """The id is another visit's, or the visitor left at another time already."""


def _not_future(deps: Deps, name: str, moment: datetime, now: datetime) -> None:
    if moment > now + timedelta(seconds=deps.max_future_skew_s):
        raise InvalidInput([field_error(name, "in the future")])


async def arrive(
    *, deps: Deps, school_id: str, request: VisitorArrival, actor: str, now: datetime
) -> GateVisit:
    """Stored and published; the same arrival again answers the stored visit."""
    school = deps.county.school(school_id)
    if school is None:
        raise LookupError(school_id)
    _not_future(deps, "arrived_at", request.arrived_at, now)
    visit = GateVisit(
        visit_id=request.visit_id,
        version=1,
        change="arrived",
        school=school.ref(),
        purpose=request.purpose,
        host=request.host,
        id_checked=request.id_checked,
        arrived_at=to_milliseconds(request.arrived_at),
        recorded_by=actor,
        changed_at=to_milliseconds(now),
        name=request.name,
        phone=request.phone,
        organisation=request.organisation,
        plate=request.plate,
    )
    if not await deps.repo.insert_visit(visit):
        held = await deps.repo.visit(request.visit_id)
        if held is None or not _same_arrival(held, visit):
            raise VisitRefused(f"visit {request.visit_id} is another visit")
        return held
    await publish(deps=deps, visit=visit)
    return visit


def _same_arrival(held: GateVisit, asked: GateVisit) -> bool:
    fields = ("school", "purpose", "host", "arrived_at", "name", "phone", "organisation", "plate")
    return all(getattr(held, f) == getattr(asked, f) for f in fields)


async def leave(
    *,
    deps: Deps,
    school_id: str,
    visit_id: uuid.UUID,
    request: VisitorDeparture,
    now: datetime,
) -> GateVisit:
    """The visitor out at `left_at`; the same departure again answers the stored visit.
    LookupError: no such visit at this school; VisitRefused: out at another time already."""
    held = await deps.repo.visit(visit_id)
    if held is None or held.school.school_id != school_id:
        raise LookupError(str(visit_id))
    left_at = to_milliseconds(request.left_at)
    if held.left_at is not None:
        if held.left_at == left_at:
            return held
        raise VisitRefused(f"the visitor left at {held.left_at.isoformat()} already")
    _not_future(deps, "left_at", left_at, now)
    if left_at < held.arrived_at:
        raise InvalidInput([field_error("left_at", "before the visitor arrived")])
    if left_at - held.arrived_at > LONGEST_STAY:
        raise InvalidInput([field_error("left_at", "two days or more after the arrival")])
    zone, closes = deps.county.zone, deps.visitors.closes_at
    out = rules.left(held, left_at=left_at, now=to_milliseconds(now), closes_at=closes, zone=zone)
    if not await deps.repo.replace_visit(out):
        raise VisitRefused("the visit changed meanwhile: send it again")
    await publish(deps=deps, visit=out)
    return out


async def watch_after_hours(*, deps: Deps, now: datetime) -> int:
    """Visitors still inside when their school closed are flagged (once: the flag stays)."""
    flagged = 0
    zone, closes = deps.county.zone, deps.visitors.closes_at
    for visit in await deps.repo.visits_inside():
        if not rules.still_inside_after_hours(visit, now=now, closes_at=closes, zone=zone):
            continue
        changed = rules.flagged(visit, now=to_milliseconds(now))
        if await deps.repo.replace_visit(changed):
            await publish(deps=deps, visit=changed)
            deps.metrics.visitors_after_hours.inc()
            flagged += 1
    return flagged


async def publish(*, deps: Deps, visit: GateVisit) -> None:
    topic = deps.topics.patrols_gate_visits
    await deps.publisher.publish(topic, visit.school.school_id, visit.event())
    await deps.repo.visit_published(visit.visit_id, visit.version)
    deps.metrics.gate_visits.labels(visit.change).inc()


async def relay(*, deps: Deps, now: datetime) -> int:
    """Changes stored but not seen published (a crash in between): published now."""
    pending = await deps.repo.unpublished_visits(before=now - RELAY_AFTER)
    for visit in pending:
        await publish(deps=deps, visit=visit)
    return len(pending)


async def erase_expired(*, deps: Deps, now: datetime) -> int:
    """Visitors' names, phones, organisations and plates erased after the retention period;
    the visit (purpose, times, flag) stays for the reports."""
    before = now - deps.visitors.personal_retention
    erased = 0
    while batch := await deps.repo.visits_to_erase(before=before, limit=ERASE_BATCH):
        for visit in batch:
            await deps.repo.erase_visit(rules.erased(visit, now=to_milliseconds(now)))
            erased += 1
    return erased
