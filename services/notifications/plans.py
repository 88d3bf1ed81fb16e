"""Every school's newest plan (一校一策) in memory, so an alarm's feed entry carries its school's
plan without a read on the alarm path. Fed by patrols.school-plans (stored in `school_plans`,
and merged from there by every instance, as the board is)."""

from __future__ import annotations

from collections.abc import Iterable

from shared.events.schools import PlanContent, SchoolPlanChanged


class PlanBook:
    def __init__(self) -> None:
        self._plans: dict[str, SchoolPlanChanged] = {}

    def merge(self, plans: Iterable[SchoolPlanChanged]) -> None:
        """Keep each school's newest version."""
        for plan in plans:
            held = self._plans.get(plan.school_id)
            if held is None or held.version < plan.version:
                self._plans[plan.school_id] = plan

    def of(self, school_id: str) -> tuple[int, PlanContent] | None:
        """The school's newest plan and its version; None when it has none."""
        held = self._plans.get(school_id)
        return (held.version, held.plan) if held else None

    def __len__(self) -> int:
        return len(self._plans)
