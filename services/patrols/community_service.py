"""Community checks (社区警务): taken (the premises must be near a school), stored with people
protected, then published as counts on patrols.community-checks (a crash in between: the relay
finishes it); issues become hazards when asked. Every read that shows people is audited first;
personal fields are erased once the retention period is over."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

from services.patrols import hazards_service
from services.patrols.community import (
    CommunityCheck,
    CommunityCheckRequest,
    CommunityCheckView,
    MatchRequest,
    PersonRead,
    PersonSeen,
    ReadAction,
    StoredPerson,
)
from services.patrols.deps import Deps
from services.patrols.hazards import HazardRefused, HazardReport
from services.patrols.personal import hash_id, keyed_digest
from shared.auth import Principal
from shared.errors import InvalidInput, field_error
from shared.events import Place, SchoolRef
from shared.geo import haversine_m
from shared.mongo import to_milliseconds

RELAY_AFTER = timedelta(seconds=5)  # younger unpublished checks are still their request's
ERASE_BATCH = 500


class CheckRefused(Exception):
    """The check id is another check's."""


def nearest_school(deps: Deps, lat: float, lon: float) -> tuple[SchoolRef, float] | None:
    """The nearest school within the community radius, and how far it is."""
    best = min(
        ((haversine_m(s.lat, s.lon, lat, lon), s) for s in deps.county.schools),
        key=lambda pair: pair[0],
        default=None,
    )
    if best is None or best[0] > deps.community.radius_m:
        return None
    return best[1].ref(), round(best[0], 1)


def _problems(deps: Deps, request: CommunityCheckRequest, now: datetime) -> list[dict[str, object]]:
    errors: list[dict[str, object]] = []
    if len(set(request.checked)) != len(request.checked):
        errors.append(field_error("checked", "an item is named twice"))
    if not set(request.failed) <= set(request.checked):
        errors.append(field_error("failed", "names an item that was not checked"))
    if request.at > now + timedelta(seconds=deps.max_future_skew_s):
        errors.append(field_error("at", "in the future"))
    numbers = [p.id_number for p in request.people if p.id_number is not None]
    if len(set(numbers)) != len(numbers):
        errors.append(field_error("people", "the same identity number is given twice"))
    return errors


async def record(
    *, deps: Deps, request: CommunityCheckRequest, actor: str, now: datetime
) -> CommunityCheckView:
    """Stored, its hazards reported, then published; the same request again answers the stored
    check. InvalidInput names each field that cannot be true; CheckRefused: the id is taken."""
    errors = _problems(deps, request, now)
    near = nearest_school(deps, request.lat, request.lon)
    if near is None:
        radius = f"{deps.community.radius_m:g} m"
        errors.append(field_error("lat", f"no school within {radius} of the premises"))
    if errors or near is None:
        raise InvalidInput(errors)
    key = deps.community.pii_key
    digest = keyed_digest(key, request.model_dump_json())
    held = await deps.repo.check(request.check_id)
    if held is not None:
        return _same(held, digest)
    school, distance = near
    hazard_ids = await _report_hazards(deps, request, school, actor, now)
    check = CommunityCheck(
        check_id=request.check_id,
        school=school,
        distance_m=distance,
        premises_kind=request.premises_kind,
        premises_name=request.premises_name,
        address=request.address,
        lat=request.lat,
        lon=request.lon,
        checked_at=to_milliseconds(request.at),
        checked=request.checked,
        failed=request.failed,
        people=[StoredPerson.of(p, key) for p in request.people],
        issues=request.issues,
        hazard_ids=hazard_ids,
        note=request.note,
        checked_by=actor,
        digest=digest,
    )
    if not await deps.repo.insert_check(check):
        held = await deps.repo.check(request.check_id)
        if held is None:
            raise RuntimeError(f"check {request.check_id} neither stored nor found")
        return _same(held, digest)
    await publish(deps=deps, check=check)
    return check.view(people="none")


def _same(held: CommunityCheck, digest: str) -> CommunityCheckView:
    if held.digest != digest:
        raise CheckRefused(f"check {held.check_id} is another check")
    return held.view(people="none")


async def _report_hazards(
    deps: Deps, request: CommunityCheckRequest, school: SchoolRef, actor: str, now: datetime
) -> list[uuid.UUID]:
    """The issues marked `hazard`, reported at the premises; ids derived from the check's, so a
    retry reports none twice."""
    reported: list[uuid.UUID] = []
    place = Place(lat=request.lat, lon=request.lon, description=request.address)
    for index, issue in enumerate(request.issues):
        if not issue.hazard:
            continue
        report = HazardReport(
            hazard_id=uuid.uuid5(request.check_id, f"issue-{index}"),
            school_id=school.school_id,
            kind=issue.kind,
            place=place,
            found_by="inspection",
            description=issue.description,
        )
        try:
            hazard = await hazards_service.report(deps=deps, request=report, actor=actor, now=now)
        except HazardRefused as exc:
            raise CheckRefused(f"check {request.check_id} is another check") from exc
        reported.append(hazard.hazard_id)
    return reported


async def publish(*, deps: Deps, check: CommunityCheck) -> None:
    event = check.event()
    await deps.publisher.publish(
        deps.topics.patrols_community_checks, check.school.school_id, event
    )
    await deps.repo.check_published(check.check_id)
    deps.metrics.community_checks.labels(check.premises_kind).inc()


async def relay(*, deps: Deps, now: datetime) -> int:
    """Checks stored but not seen published (a crash in between): published now."""
    pending = await deps.repo.unpublished_checks(before=now - RELAY_AFTER)
    for check in pending:
        await publish(deps=deps, check=check)
    return len(pending)


async def _audit(
    deps: Deps,
    principal: Principal,
    action: ReadAction,
    check_ids: list[uuid.UUID],
    purpose: str | None,
    now: datetime,
) -> None:
    """Kept before anything is shown: a read that cannot be audited is not answered."""
    read = PersonRead(
        at=to_milliseconds(now),
        actor=principal.sub,
        role=principal.role,
        action=action,
        check_ids=check_ids,
        purpose=purpose,
    )
    await deps.repo.audit_read(read)
    deps.metrics.person_reads.labels(action).inc()


async def get(
    *,
    deps: Deps,
    check_id: uuid.UUID,
    principal: Principal,
    people: Literal["masked", "clear"],
    purpose: str | None,
    now: datetime,
) -> CommunityCheckView | None:
    """One check with its people, masked (or in clear: the API lets only supervisors ask);
    the read audited."""
    check = await deps.repo.check(check_id)
    if check is None:
        return None
    action: ReadAction = "people" if people == "clear" else "check"
    await _audit(deps, principal, action, [check_id], purpose, now)
    return check.view(people=people)


async def match(
    *, deps: Deps, request: MatchRequest, principal: Principal, now: datetime
) -> list[PersonSeen]:
    """The checks that recorded this identity number (found by its keyed hash), masked; the
    read audited with its purpose."""
    id_hash = hash_id(deps.community.pii_key, request.id_number)
    checks = await deps.repo.checks_with_person(id_hash)
    await _audit(deps, principal, "match", [c.check_id for c in checks], request.purpose, now)
    return [
        PersonSeen(
            check_id=c.check_id,
            school=c.school,
            premises_kind=c.premises_kind,
            address=c.address,
            checked_at=c.checked_at,
            person=p.view(clear=False),
        )
        for c in checks
        for p in c.people
        if p.id_hash == id_hash
    ]


async def erase_expired(*, deps: Deps, now: datetime) -> int:
    """People's personal fields erased from checks older than the retention period; the counts
    (and the published events, which never held them) stay."""
    before = now - deps.community.personal_retention
    erased = 0
    while batch := await deps.repo.checks_to_erase(before=before, limit=ERASE_BATCH):
        for check in batch:
            await deps.repo.erase_people(check.erased(at=to_milliseconds(now)))
            erased += 1
        deps.metrics.people_erased.inc(sum(len(c.people) for c in batch))
    return erased
