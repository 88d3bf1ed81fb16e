"""HTTP API of the patrols service: units' positions, status and duty, check-ins, violations and
campaigns, the calendar and guard posts, video checks. Hazards (hazards_api) and school plans
(plans_api) have their own routers beside it, on the same dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from services.patrols import (
    enforcement_service,
    guard_posts_service,
    points,
    service,
    video_checks,
    visits_service,
)
from services.patrols.deps import Deps
from services.patrols.enforcement_service import CampaignExists
from services.patrols.guardposts import Calendar, RosterEntry
from services.patrols.models import (
    BatchAccepted,
    CheckinRequest,
    DutyWindow,
    PositionBatch,
    PostWindowRecord,
    StatusChange,
    StoredFix,
    UnitState,
)
from services.patrols.points import NearPoint
from services.patrols.status import StatusRefused
from services.patrols.video_checks import VideoCheckRequest
from services.patrols.violations import (
    Campaign,
    CampaignRequest,
    ViolationFilter,
    ViolationRequest,
)
from services.patrols.visits import Visit
from shared.auth import Principal, acting_as, require_role
from shared.events import (
    CheckinRecorded,
    VideoCheckRecorded,
    ViolationKind,
    ViolationRecorded,
    utcnow,
)
from shared.inputs import Moment
from shared.web import ResourceId

router = APIRouter(tags=["patrols"])

UnitId = ResourceId


async def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Terminal = Annotated[Principal, Depends(require_role("unit", "admin"))]
StatusSetter = Annotated[
    Principal, Depends(require_role("unit", "dispatcher", "supervisor", "admin"))
]
Reader = Annotated[Principal, Depends(require_role("unit", "dispatcher", "supervisor", "admin"))]
Anyone = Reader


def _known_unit(deps: Deps, principal: Principal, unit_id: str) -> None:
    """403 for another unit's resource, 404 for a unit the county does not have."""
    acting_as(principal, unit_id)
    if deps.county.unit(unit_id) is None:
        raise HTTPException(404, f"unknown unit {unit_id}")


@router.post(
    "/v1/units/{unit_id}/positions",
    status_code=202,
    response_model=BatchAccepted,
    summary="A batch of GPS fixes from a unit terminal",
    description="Accepted (202) once every fix is on the broker. Out-of-range coordinates and "
    "fixes from the future refuse the whole batch with 422 naming each field. A batch posted "
    "twice is stored once (fix identity is unit + recorded_at).",
    responses={
        403: {"description": "posting for another unit"},
        404: {"description": "unknown unit"},
        503: {"description": "the broker did not acknowledge in time: post the batch again"},
    },
)
async def post_positions(
    unit_id: UnitId, batch: PositionBatch, deps: DepsDep, principal: Terminal
) -> BatchAccepted:
    _known_unit(deps, principal, unit_id)
    return await service.accept_positions(deps=deps, unit_id=unit_id, batch=batch, now=utcnow())


@router.get("/v1/units/{unit_id}", response_model=UnitState, summary="Latest state of a unit")
async def get_unit(unit_id: UnitId, deps: DepsDep, principal: Reader) -> UnitState:
    acting_as(principal, unit_id)
    unit = await service.get(deps=deps, unit_id=unit_id)
    if unit is None:
        raise HTTPException(404, f"unknown unit {unit_id}")
    return unit


@router.get(
    "/v1/units/{unit_id}/positions",
    response_model=list[StoredFix],
    summary="A unit's position history in [since, until) (at most 24 h at a time)",
)
async def get_positions(
    unit_id: UnitId,
    deps: DepsDep,
    principal: Reader,
    since: Annotated[Moment, Query(description="inclusive, RFC 3339")],
    until: Annotated[Moment, Query(description="exclusive, RFC 3339")],
) -> list[StoredFix]:
    _known_unit(deps, principal, unit_id)
    return await service.history(deps=deps, unit_id=unit_id, since=since, until=until)


@router.post(
    "/v1/units/{unit_id}/status",
    response_model=UnitState,
    summary="Change a unit's status (the unit itself, or a dispatcher)",
    description="Rules: off_duty → available | on_post; available → busy | en_route | on_post | "
    "off_duty; busy → available | en_route | off_duty; en_route → on_scene | available | busy; "
    "on_scene → available | busy; on_post → available | en_route | off_duty. A change the rules "
    "do not allow answers 409 with the reason. Published on patrols.unit-status.",
    responses={
        403: {"description": "another unit"},
        404: {"description": "unknown unit"},
        409: {"description": "not allowed from the current status"},
    },
)
async def post_status(
    unit_id: UnitId, body: StatusChange, deps: DepsDep, principal: StatusSetter
) -> UnitState:
    _known_unit(deps, principal, unit_id)
    try:
        return await service.change_status(
            deps=deps,
            unit_id=unit_id,
            status=body.status,
            actor=principal.sub,
            reason=body.reason,
            now=utcnow(),
        )
    except StatusRefused as exc:
        raise HTTPException(409, exc.reason) from exc


Supervisor = Annotated[Principal, Depends(require_role("supervisor", "admin"))]
Viewer = Annotated[Principal, Depends(require_role("supervisor", "dispatcher", "admin"))]


@router.post(
    "/v1/units/{unit_id}/violations",
    status_code=202,
    response_model=ViolationRecorded,
    summary="Record a traffic or order violation near a school",
    description="Accepted (202) once on the broker; the same violation_id again is the same "
    "record. 422 names each field that cannot be true: a time in the future, an unknown school "
    "or campaign, a campaign not running that day or not covering that school, a plate missing "
    "or malformed.",
)
async def post_violation(
    unit_id: UnitId, body: ViolationRequest, deps: DepsDep, principal: Terminal
) -> ViolationRecorded:
    _known_unit(deps, principal, unit_id)
    return await enforcement_service.record_violation(
        deps=deps, unit_id=unit_id, request=body, now=utcnow()
    )


@router.get("/v1/violations", response_model=list[ViolationRecorded], summary="Violations")
async def get_violations(
    deps: DepsDep,
    _: Viewer,
    campaign_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: ViolationKind | None = None,
    school_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Moment | None = None,
    until: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[ViolationRecorded]:
    query = ViolationFilter(
        campaign_id=campaign_id,
        kind=kind,
        school_id=school_id,
        since=since,
        until=until,
        limit=limit,
    )
    return await enforcement_service.violations(deps=deps, query=query)


@router.post(
    "/v1/campaigns",
    status_code=201,
    response_model=Campaign,
    summary="A campaign",
    description="Published on patrols.campaigns for the reports. The same campaign again (a "
    "retry) is 201 with the stored one; another campaign under a taken id is 409.",
    responses={409: {"description": "another campaign has this id"}},
)
async def post_campaign(body: CampaignRequest, deps: DepsDep, principal: Supervisor) -> Campaign:
    try:
        return await enforcement_service.create_campaign(
            deps=deps, request=body, actor=principal.sub, now=utcnow()
        )
    except CampaignExists as exc:
        raise HTTPException(409, f"campaign {exc} exists") from exc


@router.get("/v1/campaigns", response_model=list[Campaign], summary="Campaigns, newest first")
async def get_campaigns(deps: DepsDep, _: Viewer) -> list[Campaign]:
    return await deps.repo.campaigns()


@router.post(
    "/v1/units/{unit_id}/checkins",
    status_code=202,
    response_model=CheckinRecorded,
    summary="Check in at a patrol point (must-reach, must-patrol, stop)",
    description="Accepted inside the point's geofence. Outside it: 422 with the distance, unless "
    "insist=true, then recorded with flagged=true and the distance. The same checkin_id again "
    "is the same record. Published on patrols.checkins.",
)
async def post_checkin(
    unit_id: UnitId, body: CheckinRequest, deps: DepsDep, principal: Terminal
) -> CheckinRecorded:
    _known_unit(deps, principal, unit_id)
    return await enforcement_service.check_in(
        deps=deps, unit_id=unit_id, request=body, now=utcnow()
    )


@router.get(
    "/v1/points/{point_id}/checkins",
    response_model=list[CheckinRecorded],
    summary="Check-ins at a patrol point in [since, until)",
)
async def get_checkins(
    point_id: Annotated[str, Path(max_length=64)],
    deps: DepsDep,
    _: Viewer,
    since: Moment,
    until: Moment,
) -> list[CheckinRecorded]:
    if deps.county.point(point_id) is None:
        raise HTTPException(404, f"unknown patrol point {point_id}")
    return await deps.repo.checkins(point_id, since=since, until=until)


@router.get("/v1/calendar", response_model=Calendar, summary="The school calendar")
async def get_calendar(deps: DepsDep, _: Anyone) -> Calendar:
    return await deps.repo.calendar()


@router.put(
    "/v1/calendar",
    response_model=Calendar,
    summary="Replace the school calendar (school weekdays, windows, holidays, exam days)",
)
async def put_calendar(body: Calendar, deps: DepsDep, _: Supervisor) -> Calendar:
    await guard_posts_service.save_calendar(deps=deps, calendar=body)
    return body


@router.post(
    "/v1/roster",
    status_code=201,
    summary="Put a unit on a school's gate post (护学岗) for rush-hour windows",
    description="The post is a school's stop point; the same unit, post and start date again "
    "replaces the entry. During each window the service checks the unit is within the post's "
    "radius and publishes a coverage gap on patrols.guard-posts when nobody is there "
    "POST_GRACE_S after the start, while the window is still open.",
)
async def post_roster(body: RosterEntry, deps: DepsDep, _: Supervisor) -> dict[str, str]:
    return {"entry_id": await guard_posts_service.add_roster_entry(deps=deps, entry=body)}


@router.get("/v1/roster", response_model=list[RosterEntry], summary="The duty roster")
async def get_roster(
    deps: DepsDep, _: Viewer, unit_id: Annotated[str | None, Query(max_length=64)] = None
) -> list[RosterEntry]:
    return [entry for _, entry in await deps.repo.roster(unit_id=unit_id)]


@router.get(
    "/v1/units/{unit_id}/roster", response_model=list[RosterEntry], summary="A unit's own duty"
)
async def get_unit_roster(unit_id: UnitId, deps: DepsDep, principal: Reader) -> list[RosterEntry]:
    acting_as(principal, unit_id)
    return [entry for _, entry in await deps.repo.roster(unit_id=unit_id)]


@router.get(
    "/v1/units/{unit_id}/duty",
    response_model=list[DutyWindow],
    summary="A unit's guard-post windows today (county time), each as judged so far",
)
async def get_unit_duty(unit_id: UnitId, deps: DepsDep, principal: Reader) -> list[DutyWindow]:
    _known_unit(deps, principal, unit_id)
    return await guard_posts_service.duty_today(deps=deps, unit_id=unit_id, now=utcnow())


@router.get(
    "/v1/points",
    response_model=list[NearPoint],
    summary="Patrol points near a position, nearest first (a terminal choosing a check-in)",
)
async def get_points(
    deps: DepsDep,
    _: Anyone,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    within_m: Annotated[float, Query(gt=0, le=points.MAX_WITHIN_M)] = 3000,
    limit: Annotated[int, Query(ge=1, le=points.MAX_POINTS)] = 20,
) -> list[NearPoint]:
    return points.nearest(deps.county, lat=lat, lon=lon, within_m=within_m, limit=limit)


@router.get(
    "/v1/posts/today",
    response_model=list[PostWindowRecord],
    summary="Guard-post windows judged today: pending, staffed, late or empty",
)
async def get_posts_today(deps: DepsDep, _: Viewer) -> list[PostWindowRecord]:
    calendar = await deps.repo.calendar()
    return await deps.repo.post_windows_on(utcnow().astimezone(calendar.zone).date())


@router.get(
    "/v1/points/{point_id}/visits",
    response_model=list[Visit],
    summary="Visits to a patrol point and the dwell time, from positions and check-ins",
    description="A visit is a run of a unit's fixes inside the point's geofence (fixes more than "
    "5 min apart start a new one); an accepted check-in marks the visit, or is a visit of its "
    "own when no fix shows the unit there. At most 12 h at a time.",
)
async def get_visits(
    point_id: Annotated[str, Path(max_length=64)],
    deps: DepsDep,
    _: Viewer,
    since: Moment,
    until: Moment,
) -> list[Visit]:
    try:
        return await visits_service.visits(deps=deps, point_id=point_id, since=since, until=until)
    except LookupError as exc:
        raise HTTPException(404, f"unknown patrol point {point_id}") from exc


@router.post(
    "/v1/video-checks",
    status_code=202,
    response_model=VideoCheckRecorded,
    summary="Record a video patrol check of a school's gate or guard post (视频巡查)",
    description="Accepted (202) once on patrols.video-checks; the same check_id again is the "
    "same record. 422 names each field that cannot be true: an unknown school, a post that is "
    "not its guard post, officer_on_post without a post (or a post without it), a moment to "
    "come. The daily bulletin (reporting) compares it with the post's GPS verdict.",
)
async def post_video_check(
    body: VideoCheckRequest, deps: DepsDep, principal: Viewer
) -> VideoCheckRecorded:
    return await video_checks.record(deps=deps, request=body, actor=principal.sub, now=utcnow())
