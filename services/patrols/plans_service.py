"""School plans (一校一策): the next version saved, then published on patrols.school-plans for
the dispatchers (notifications shows it with every alarm at that school)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.patrols.deps import Deps
from services.patrols.plans import PlanRequest, SchoolPlan
from shared.events import stable_id
from shared.events.schools import SchoolPlanChanged
from shared.mongo import to_milliseconds

RELAY_AFTER = timedelta(seconds=5)  # younger unpublished versions are still their request's


class PlanConflict(Exception):
    """The edit replaces a version that is not the newest (409): someone saved meanwhile."""

    def __init__(self, asked: int, newest: int) -> None:
        super().__init__(f"the plan is at version {newest}, not {asked}: reload it and edit again")
        self.newest = newest


async def save(
    *, deps: Deps, school_id: str, request: PlanRequest, actor: str, now: datetime
) -> SchoolPlan:
    """The next version, stored and published. The same edit again (a retry after the answer
    was lost) answers the version it made. LookupError: no such school."""
    if deps.county.school(school_id) is None:
        raise LookupError(school_id)
    stamp = to_milliseconds(now)
    plan = SchoolPlan(
        school_id=school_id,
        version=request.version + 1,
        plan=request.content(),
        edited_by=actor,
        edited_at=stamp,
    )
    if not await _insert_next(deps, plan, request.version):
        held = await deps.repo.plan(school_id, plan.version)
        if held is None or (held.plan, held.edited_by) != (plan.plan, plan.edited_by):
            newest = await deps.repo.plan(school_id)
            raise PlanConflict(request.version, newest.version if newest else 0)
        plan = held
    await publish(deps=deps, plan=plan)
    return plan


async def _insert_next(deps: Deps, plan: SchoolPlan, replaces: int) -> bool:
    """Stored as the next version, if `replaces` is the newest (or, for a first plan, none)."""
    newest = await deps.repo.plan(plan.school_id)
    if (newest.version if newest else 0) != replaces:
        return False
    return await deps.repo.insert_plan(plan)


async def publish(*, deps: Deps, plan: SchoolPlan) -> None:
    event = SchoolPlanChanged(
        event_id=stable_id("school-plan", plan.school_id, str(plan.version)),
        occurred_at=plan.edited_at,
        school_id=plan.school_id,
        version=plan.version,
        plan=plan.plan,
        edited_by=plan.edited_by,
    )
    await deps.publisher.publish(deps.topics.patrols_school_plans, plan.school_id, event)
    await deps.repo.plan_published(plan.school_id, plan.version)


async def relay(*, deps: Deps, now: datetime) -> int:
    """Versions stored but not seen published (a crash in between): published now."""
    pending = await deps.repo.unpublished_plans(before=now - RELAY_AFTER)
    for plan in pending:
        await publish(deps=deps, plan=plan)
    return len(pending)
