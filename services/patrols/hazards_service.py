"""Hazards (隐患排查整改): reported, assigned to a department with a deadline, rectified,
verified; overdue ones marked by a round. Each change is stored (compare-and-set on the version)
and then published whole on patrols.hazards for the reports; a crash in between is finished by
the relay."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from services.patrols import hazards as rules
from services.patrols.deps import Deps
from services.patrols.hazards import (
    Assignment,
    Change,
    HazardRefused,
    HazardReport,
    Rectification,
    Verification,
)
from shared.errors import InvalidInput, field_error, query_error
from shared.events.hazards import HazardChange, HazardChanged
from shared.mongo import to_milliseconds

RELAY_AFTER = timedelta(seconds=5)  # younger unpublished changes are still their request's
SYSTEM = "system"


async def report(*, deps: Deps, request: HazardReport, actor: str, now: datetime) -> HazardChanged:
    """Stored and published; the same report again answers the stored one. InvalidInput for an
    unknown school; HazardRefused when the id is another hazard's."""
    school = deps.county.school(request.school_id)
    if school is None:
        raise InvalidInput([field_error("school_id", f"unknown school {request.school_id}")])
    hazard = rules.reported(request, school=school.ref(), actor=actor, now=to_milliseconds(now))
    if not await deps.repo.insert_hazard(hazard):
        held = await deps.repo.hazard(request.hazard_id)
        if held is None or not _same_report(held, request):
            raise HazardRefused(f"hazard {request.hazard_id} is another hazard")
        return held
    await publish(deps=deps, hazard=hazard)
    return hazard


def _same_report(held: HazardChanged, request: HazardReport) -> bool:
    """The stored hazard is this report (since changed, perhaps: rectification adds photos)."""
    reported = (held.school.school_id, held.kind, held.place, held.found_by, held.description)
    asked = (request.school_id, request.kind, request.place, request.found_by, request.description)
    return reported == asked and held.photos[: len(request.photos)] == request.photos


def schools_of(*, deps: Deps, school_id: str | None, township: str | None) -> list[str] | None:
    """The schools a hazards query covers (None: all); InvalidInput for an unknown one."""
    if school_id is not None:
        if deps.county.school(school_id) is None:
            raise InvalidInput([query_error("school_id", f"unknown school {school_id}")])
        return [school_id]
    if township is not None:
        schools = [s.school_id for s in deps.county.schools if s.township == township]
        if not schools:
            raise InvalidInput([query_error("township", f"unknown township {township}")])
        return schools
    return None


async def assign(
    *, deps: Deps, hazard_id: uuid.UUID, body: Assignment, actor: str, now: datetime
) -> HazardChanged:
    if body.deadline <= now:
        raise InvalidInput([field_error("deadline", "in the past: rectify by a time to come")])
    return await _change(
        deps,
        hazard_id,
        "assigned",
        body,
        actor,
        now,
        department=body.department,
        deadline=body.deadline,
    )


async def rectify(
    *, deps: Deps, hazard_id: uuid.UUID, body: Rectification, actor: str, now: datetime
) -> HazardChanged:
    return await _change(deps, hazard_id, "rectified", body, actor, now, add_photos=body.photos)


async def verify(
    *, deps: Deps, hazard_id: uuid.UUID, body: Verification, actor: str, now: datetime
) -> HazardChanged:
    if body.passed:
        return await _change(deps, hazard_id, "verified", body, actor, now)
    if body.deadline is None or body.deadline <= now:
        raise InvalidInput(
            [field_error("deadline", "a failed verification gives a new deadline to come")]
        )
    return await _change(deps, hazard_id, "rejected", body, actor, now, deadline=body.deadline)


async def _change(
    deps: Deps,
    hazard_id: uuid.UUID,
    change: HazardChange,
    body: Change,
    actor: str,
    now: datetime,
    add_photos: list[str] | None = None,
    **fields: Any,
) -> HazardChanged:
    """The change made on `body.version`, stored and published; the same change again (a
    retry) answers what it made. LookupError: no such hazard; HazardRefused: the rules, or
    another change came first."""
    held = await deps.repo.hazard(hazard_id)
    if held is None:
        raise LookupError(str(hazard_id))
    if held.version != body.version:
        if (held.version, held.change, held.actor) == (body.version + 1, change, actor):
            return held
        raise HazardRefused(f"the hazard is at version {held.version}, not {body.version}")
    if add_photos:
        fields["photos"] = [*held.photos, *add_photos]
    changed = rules.apply(held, change, actor=actor, now=to_milliseconds(now), **fields)
    changed = changed.model_copy(update={"note": body.note})
    if not await deps.repo.replace_hazard(changed):
        raise HazardRefused("the hazard changed meanwhile: reload it")
    await publish(deps=deps, hazard=changed)
    return changed


async def watch_overdue(*, deps: Deps, now: datetime) -> int:
    """Assigned hazards past their deadline become overdue (once: the state moves on)."""
    marked = 0
    for hazard in await deps.repo.hazards_due(now=now):
        overdue = rules.apply(hazard, "overdue", actor=SYSTEM, now=to_milliseconds(now))
        if await deps.repo.replace_hazard(overdue):
            await publish(deps=deps, hazard=overdue)
            deps.metrics.hazards_overdue.inc()
            marked += 1
    return marked


async def publish(*, deps: Deps, hazard: HazardChanged) -> None:
    await deps.publisher.publish(deps.topics.patrols_hazards, str(hazard.hazard_id), hazard)
    await deps.repo.hazard_published(hazard.hazard_id, hazard.version)
    deps.metrics.hazards.labels(hazard.change).inc()


async def relay(*, deps: Deps, now: datetime) -> int:
    """Changes stored but not seen published (a crash in between): published now."""
    pending = await deps.repo.unpublished_hazards(before=now - RELAY_AFTER)
    for hazard in pending:
        await publish(deps=deps, hazard=hazard)
    return len(pending)
