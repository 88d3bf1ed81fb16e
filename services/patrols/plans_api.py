"""HTTP API of school plans (一校一策): supervisors save versions; anyone signed in reads the
newest."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from services.patrols import plans_service
from services.patrols.api import Anyone, DepsDep, Supervisor, Viewer
from services.patrols.plans import PlanRequest, SchoolPlan
from services.patrols.plans_service import PlanConflict
from shared.events import utcnow
from shared.web import ResourceId

router = APIRouter(tags=["school plans"])
SchoolId = ResourceId


@router.put(
    "/v1/schools/{school_id}/plan",
    response_model=SchoolPlan,
    summary="Save a school's plan (一校一策) as its next version",
    description="`version` is the version the edit replaces (0 for the first plan); the answer "
    "is the new version. An edit of an older version is 409 with the newest (reload, edit "
    "again): two supervisors never write over each other. The same edit again (a retry) "
    "answers the version it made. Published on patrols.school-plans; the dispatchers see it "
    "with every alarm at that school.",
    responses={
        404: {"description": "unknown school"},
        409: {"description": "the plan is at another version"},
    },
)
async def put_plan(
    school_id: SchoolId, body: PlanRequest, deps: DepsDep, principal: Supervisor
) -> SchoolPlan:
    try:
        return await plans_service.save(
            deps=deps, school_id=school_id, request=body, actor=principal.sub, now=utcnow()
        )
    except LookupError as exc:
        raise HTTPException(404, f"unknown school {school_id}") from exc
    except PlanConflict as exc:
        raise HTTPException(409, str(exc)) from exc


@router.get(
    "/v1/schools/{school_id}/plan",
    response_model=SchoolPlan,
    summary="A school's plan, newest version",
    responses={404: {"description": "unknown school, or no plan yet"}},
)
async def get_plan(school_id: SchoolId, deps: DepsDep, _: Anyone) -> SchoolPlan:
    plan = await deps.repo.plan(school_id) if deps.county.school(school_id) else None
    if plan is None:
        raise HTTPException(404, f"no plan for school {school_id}")
    return plan


@router.get(
    "/v1/schools/{school_id}/plan/versions",
    response_model=list[SchoolPlan],
    summary="Every version of a school's plan, oldest first",
)
async def get_plan_versions(school_id: SchoolId, deps: DepsDep, _: Viewer) -> list[SchoolPlan]:
    if deps.county.school(school_id) is None:
        raise HTTPException(404, f"unknown school {school_id}")
    return await deps.repo.plan_versions(school_id)
