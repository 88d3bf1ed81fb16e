"""Notification logic, the entry point: the unit-position read model, and what each alarm
event and each command outcome sets off. The work itself lives beside this file, by subject:

- feed.py: the ranking of the nearest units, dispatcher feed entries, the logs every instance
  streams from (streams.py), and the commands sent to the alarms service;
- orders.py: unit orders: the first one, acceptance, pass-over, closing;
- messages.py: outside messages: webhooks, and the school's "help is on the way";
- deps.py: what all of it is given.

Every step is idempotent (ids derive from the alarm, the unit or the command), so a
redelivered event completes what a crash interrupted and sends nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from services.notifications import feed, messages, orders
from services.notifications.deps import Deps
from services.notifications.feed import relay_unlogged
from services.notifications.messages import OutboundSender, tell_the_school
from services.notifications.models import (
    FeedEntry,
    order_id,
)
from services.notifications.orders import (
    ORDERS_CLOSED_BY,
    OrderRefused,
    acknowledge,
    mark_delivered,
    pass_over_overdue,
    relay_deliveries,
)
from shared.events import (
    AlarmLifecycle,
    CommandResolved,
    DeviceTrouble,
    GuardPostWindow,
    PositionReported,
    SchoolPlanChanged,
    UnitStatusChanged,
    stable_id,
)

# the entry points api.py, handlers.py and main.py call, from the sub-domain modules beside this
__all__ = [
    "Deps",
    "OrderRefused",
    "OutboundSender",
    "acknowledge",
    "mark_delivered",
    "on_command_result",
    "on_device_trouble",
    "on_guard_post",
    "on_lifecycle",
    "order_id",
    "pass_over_overdue",
    "record_positions",
    "record_status",
    "refresh_board",
    "relay_deliveries",
    "relay_unlogged",
    "tell_the_school",
]


async def record_positions(*, deps: Deps, fixes: list[PositionReported]) -> None:
    """Onto the board, and into its stored copy before the batch is committed (the batches
    are READ_MODEL_BATCH: seconds long, so few writes)."""
    deps.board.move(fixes)
    await deps.repo.upsert_positions(fixes)


async def record_status(*, deps: Deps, change: UnitStatusChanged) -> None:
    deps.board.set_status(change)
    await deps.repo.set_status(change)


async def on_school_plan(*, deps: Deps, plan: SchoolPlanChanged) -> None:
    """A school's new plan: shown with its next alarm here, and by every instance once merged."""
    deps.plans.merge([plan])
    await deps.repo.save_plan(plan)


async def refresh_plans(*, deps: Deps, since: datetime | None) -> None:
    """Merge the stored plans (all at start-up; then those another instance wrote)."""
    deps.plans.merge(await deps.repo.load_plans(changed_since=since))


async def refresh_board(*, deps: Deps, since: datetime | None) -> None:
    """Merge what the stored copy holds (all of it at start-up; then what changed since the
    last round, e.g. written by another instance consuming other partitions)."""
    deps.board.merge(await deps.repo.load_units(changed_since=since))


async def on_lifecycle(*, deps: Deps, event: AlarmLifecycle, now: datetime) -> FeedEntry | None:
    """Tell the dispatchers (feed, once per event), then the units: the first order on
    `raised`; open orders closed once a unit is assigned or the alarm ends. Each step is
    idempotent, so a redelivered event completes what a crash interrupted."""
    first_order = event.state == "raised" and event.change == "transition" and not event.test
    entry = feed.feed_entry(deps=deps, event=event, now=now)
    if first_order and entry.nearest_units:
        entry, inserted = await orders.feed_and_first_order(
            deps=deps, event=event, entry=entry, now=now
        )
    else:
        entry, inserted = await feed.add_to_feed(deps=deps, event=event, entry=entry)
    await asyncio.gather(*_follow_ups(deps=deps, event=event, entry=entry, now=now))
    return entry if inserted else None


def _follow_ups(
    *, deps: Deps, event: AlarmLifecycle, entry: FeedEntry, now: datetime
) -> list[Coroutine[Any, Any, None]]:
    """What the event sets off besides the feed, each step idempotent and independent of the
    others (so they run side by side): on a raise, the webhooks and dispatching the alarm (or
    escalating it: nobody in range); once a unit is assigned or the alarm ends, the open orders
    closed; on an assignment, the school told."""
    steps: list[Coroutine[Any, Any, None]] = []
    if event.state == "raised" and event.change == "transition" and not event.test:
        steps.append(messages.queue_webhooks(deps=deps, event=event, entry=entry, now=now))
        if entry.nearest_units:
            steps.append(
                feed.send_command(deps, event.alarm_id, "dispatch", reason="first unit ordered")
            )
        else:
            steps.append(feed.give_up(deps=deps, alarm_id=event.alarm_id))
    if event.state in ORDERS_CLOSED_BY:
        steps.append(orders.close_orders(deps=deps, event=event, now=now))
    if event.state == "unit_assigned" and event.assigned_unit is not None:
        unit_id = event.assigned_unit
        steps.append(tell_the_school(deps=deps, event=event, unit_id=unit_id, now=now))
        steps.append(orders.order_assigned(deps=deps, event=event, entry=entry, now=now))
    return steps


# Commands the system sends knowing another may come first (a dispatcher acknowledging before
# the first order, a unit assigned meanwhile): their refusal is no news to anyone.
EXPECTED_REFUSALS = frozenset({"dispatch", "escalate"})


async def on_command_result(*, deps: Deps, result: CommandResolved, now: datetime) -> None:
    """A refused command is shown to the dispatchers (a feed entry with the reason); a unit
    whose acceptance was refused has its order closed with the reason, on its stream."""
    if result.status == "applied":
        return
    if result.role == "system" and result.action in EXPECTED_REFUSALS:
        return
    latest = await deps.repo.latest_feed_entry(result.alarm_id)
    if latest is None:
        raise RuntimeError(f"refusal of {result.command_id} for an alarm without a feed entry")
    if result.action == "assign" and latest.assigned_unit == result.unit_id:
        return  # assigned already, by someone else's command
    await feed.follow_up(
        deps=deps,
        latest=latest,
        event_id=stable_id("refused", str(result.command_id)),
        now=now,
        change="refused",
        reason=result.reason,
        command_id=result.command_id,
        actor=result.actor,
    )
    if result.action == "assign" and result.role == "system" and result.unit_id:
        await orders.refuse_acceptance(deps=deps, result=result)


async def on_device_trouble(*, deps: Deps, trouble: DeviceTrouble) -> None:
    """A button in trouble, or restored: the dispatchers see it in their feed, apart from
    alarms, to have it seen to before the day it is needed."""
    await feed.record_trouble(deps=deps, trouble=trouble)


async def on_guard_post(*, deps: Deps, window: GuardPostWindow) -> None:
    """A guard post empty in its window: the dispatchers see it in their feed, to send someone."""
    await feed.record_gap(deps=deps, window=window)
