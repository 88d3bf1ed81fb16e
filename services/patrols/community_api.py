"""HTTP API of community checks (社区警务): officers record checks of rental housing and hotels
near schools; people are shown masked, in clear only to supervisors who say why, and every read
that shows people is audited (read by admins)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from services.patrols import community_service, hazards_service
from services.patrols.api import DepsDep, Reader, Supervisor
from services.patrols.community import (
    CommunityCheckRequest,
    CommunityCheckView,
    MatchRequest,
    PersonRead,
    PersonSeen,
)
from services.patrols.community_service import CheckRefused
from services.patrols.deps import Deps
from shared.auth import Principal, require_role
from shared.events import utcnow
from shared.inputs import Moment

router = APIRouter(tags=["community checks"])
Auditor = Annotated[Principal, Depends(require_role("admin"))]
Purpose = Annotated[str, Query(min_length=2, max_length=200, description="Kept in the audit")]


@router.post(
    "/v1/community-checks",
    status_code=201,
    response_model=CommunityCheckView,
    summary="Record a check of rental housing or a hotel near a school (出租房屋、旅馆业)",
    description="The premises must lie within COMMUNITY_RADIUS_M of a school (the nearest is "
    "its school). Identity numbers are checked (GB 11643) and kept only as a keyed hash and a "
    "masked form; issues with `hazard: true` are reported as hazards there. Stored, then "
    "published (counts only) on patrols.community-checks. The same request again answers the "
    "stored check; another check under a taken id is 409.",
    responses={409: {"description": "the id is another check's"}},
)
async def post_check(
    body: CommunityCheckRequest, deps: DepsDep, principal: Reader
) -> CommunityCheckView:
    try:
        return await community_service.record(
            deps=deps, request=body, actor=principal.sub, now=utcnow()
        )
    except CheckRefused as exc:
        raise HTTPException(409, str(exc)) from exc


@router.get(
    "/v1/community-checks",
    response_model=list[CommunityCheckView],
    summary="Community checks, newest first (people counted, not shown)",
)
async def get_checks(
    deps: DepsDep,
    _: Reader,
    school_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    township: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    since: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CommunityCheckView]:
    schools = hazards_service.schools_of(deps=deps, school_id=school_id, township=township)
    checks = await deps.repo.checks(school_ids=schools, since=since, limit=limit)
    return [c.view(people="none") for c in checks]


async def _read(
    deps: Deps,
    check_id: uuid.UUID,
    principal: Principal,
    people: Literal["masked", "clear"],
    purpose: str | None,
) -> CommunityCheckView:
    """One check with its people as asked, the read audited; 404 when there is none."""
    view = await community_service.get(
        deps=deps,
        check_id=check_id,
        principal=principal,
        people=people,
        purpose=purpose,
        now=utcnow(),
    )
    if view is None:
        raise HTTPException(404, f"no community check {check_id}")
    return view


@router.get(
    "/v1/community-checks/{check_id}",
    response_model=CommunityCheckView,
    summary="One check with its people masked (audited)",
    responses={404: {"description": "no such check"}},
)
async def get_check(
    check_id: uuid.UUID,
    deps: DepsDep,
    principal: Reader,
    purpose: Annotated[str | None, Query(min_length=2, max_length=200)] = None,
) -> CommunityCheckView:
    return await _read(deps, check_id, principal, "masked", purpose)


@router.get(
    "/v1/community-checks/{check_id}/people",
    response_model=CommunityCheckView,
    summary="One check with names and phone numbers in clear: supervisors, with a purpose "
    "(audited)",
    description="Identity numbers are never shown: they are not kept.",
    responses={404: {"description": "no such check"}},
)
async def get_check_people(
    check_id: uuid.UUID, deps: DepsDep, principal: Supervisor, purpose: Purpose
) -> CommunityCheckView:
    return await _read(deps, check_id, principal, "clear", purpose)


@router.post(
    "/v1/community-checks/match",
    response_model=list[PersonSeen],
    summary="Where a person was recorded, by identity number (masked; audited)",
    description="The number is sent in the body (never in a URL, which logs keep), hashed "
    "with the same key and matched; the answer shows the person masked.",
)
async def match_person(body: MatchRequest, deps: DepsDep, principal: Reader) -> list[PersonSeen]:
    return await community_service.match(deps=deps, request=body, principal=principal, now=utcnow())


@router.get(
    "/v1/audit/person-reads",
    response_model=list[PersonRead],
    summary="The audit of reads of people's records, newest first (admins)",
)
async def get_person_reads(
    deps: DepsDep,
    _: Auditor,
    since: Moment | None = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[PersonRead]:
    return await deps.repo.person_reads(since=since, actor=actor, limit=limit)
