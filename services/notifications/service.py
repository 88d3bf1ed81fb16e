"""Notification logic: the unit-position read model, the dispatcher feed, and unit orders.

Who is told: dispatchers always (the feed). Units: the ranking of fresh, dispatchable units
(the school's staffed guard post first, then by distance; the radius doubled step by step when
nobody is in range). The first unit gets an order; one that does not acknowledge it in time is
passed over for the next, and the dispatchers are warned. One order per alarm and unit, ever:
its id derives from both, so a redelivered event or a restart sends nothing twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifications.hub import Hub
from services.notifications.metrics import NotificationMetrics
from services.notifications.models import FeedEntry, Order
from services.notifications.repository import OPEN, ORDERS, NotificationRepository
from shared.bus import Publisher
from shared.events import (
    AlarmLifecycle,
    DeliveryChanged,
    DeliveryState,
    NearbyUnit,
    PositionReported,
    UnitStatusChanged,
    stable_id,
    utcnow,
)
from shared.topics import Topics

log = logging.getLogger(__name__)

# Once the alarm reaches one of these, nobody needs to be asked to go any more.
ORDERS_CLOSED_BY = frozenset({"unit_assigned", "en_route", "on_scene", "resolved", "cancelled"})


@dataclass(frozen=True)
class Deps:
    repo: NotificationRepository
    hub: Hub[FeedEntry]
    metrics: NotificationMetrics
    radius_m: float
    top_k: int
    position_max_age_s: float
    publisher: Publisher
    topics: Topics
    orders_hub: Hub[Order]
    radius_widenings: int = 2
    guard_post_radius_m: float = 200.0
    order_ack_timeout: timedelta = timedelta(seconds=20)


class OrderRefused(Exception):
    """An acknowledgement the order's state does not allow (409), with the reason."""


async def record_positions(*, deps: Deps, fixes: list[PositionReported]) -> None:
    await deps.repo.upsert_positions(fixes)


async def record_status(*, deps: Deps, change: UnitStatusChanged) -> None:
    await deps.repo.set_status(change)


async def nearest_units(
    *, deps: Deps, lat: float, lon: float, now: datetime
) -> tuple[list[NearbyUnit], float]:
    """The ranking and the radius that found it: fresh, dispatchable units, the staffed guard
    post first, then closest first, at most top_k. Nobody within the radius: double it, at
    most `radius_widenings` times."""
    radius = deps.radius_m
    for widening in range(deps.radius_widenings + 1):
        radius = deps.radius_m * 2**widening
        found = await deps.repo.nearest_units(
            lat=lat,
            lon=lon,
            radius_m=radius,
            limit=deps.top_k,
            fresh_since=now - timedelta(seconds=deps.position_max_age_s),
            guard_post_radius_m=deps.guard_post_radius_m,
        )
        if found:
            return sorted(found, key=lambda u: (not u.guard_post, u.distance_m)), radius
    return [], radius


async def on_lifecycle(*, deps: Deps, event: AlarmLifecycle, now: datetime) -> FeedEntry | None:
    """Tell the dispatchers (feed, once per event), then the units: the first order on
    `raised`; open orders closed once a unit is assigned or the alarm ends. Each step is
    idempotent, so a redelivered event completes what a crash interrupted."""
    entry = await deps.repo.feed_entry(str(event.event_id))
    added = None
    if entry is None:
        entry = added = await _add_to_feed(deps=deps, event=event, now=now)
    first_order = event.state == "raised" and event.change == "transition" and not event.test
    if first_order and entry.nearest_units:
        first, *rest = entry.nearest_units
        order = await _order(deps=deps, entry=entry, unit=first, rank=1, rest=rest, now=now)
        if order is not None and event.received_at is not None:
            deps.metrics.raised_to_unit.observe((utcnow() - event.received_at).total_seconds())
    if event.state in ORDERS_CLOSED_BY:
        await _close_orders(deps=deps, event=event, now=now)
    return added


async def _add_to_feed(*, deps: Deps, event: AlarmLifecycle, now: datetime) -> FeedEntry:
    nearby: list[NearbyUnit] = []
    radius: float | None = None
    searched = event.state == "raised" and event.change == "transition"
    if searched:
        nearby, radius = await nearest_units(
            deps=deps, lat=event.school.lat, lon=event.school.lon, now=now
        )
        if not nearby:
            deps.metrics.no_unit_in_range.inc()
        elif radius > deps.radius_m:
            deps.metrics.radius_widened.inc()
    entry = FeedEntry(
        seq=await deps.repo.next_seq(),
        event_id=event.event_id,
        alarm_id=event.alarm_id,
        state=event.state,
        school=event.school,
        kind=event.kind,
        silent=event.silent,
        test=event.test,
        location=event.location,
        pressed_at=event.pressed_at,
        occurred_at=event.occurred_at,
        nearest_units=nearby,
        radius_m=radius,
        widened=radius is not None and radius > deps.radius_m,
        change=event.change,
        press_count=event.press_count,
        severity=event.severity,
        assigned_unit=event.assigned_unit,
    )
    if await deps.repo.insert_feed(entry):
        deps.hub.publish(entry)
        deps.metrics.feed_entries.labels(event.state).inc()
        if searched and event.received_at is not None:
            deps.metrics.raised_to_dispatcher.observe(
                (utcnow() - event.received_at).total_seconds()
            )
        return entry
    held = await deps.repo.feed_entry(str(event.event_id))  # a concurrent redelivery won
    if held is None:
        raise RuntimeError(f"feed entry {event.event_id} neither inserted nor found")
    return held


def order_id(alarm_id: uuid.UUID, unit_id: str) -> uuid.UUID:
    return stable_id("order", str(alarm_id), unit_id)


async def _order(
    *,
    deps: Deps,
    entry: FeedEntry,
    unit: NearbyUnit,
    rank: int,
    rest: list[NearbyUnit],
    now: datetime,
) -> Order | None:
    """Send `unit` its order for the alarm, unless it already has one (then None)."""
    oid = order_id(entry.alarm_id, unit.unit_id)
    if await deps.repo.get_order(oid) is not None:
        return None
    order = Order(
        order_id=oid,
        seq=await deps.repo.next_seq(ORDERS),
        alarm_id=entry.alarm_id,
        unit_id=unit.unit_id,
        rank=rank,
        distance_m=unit.distance_m,
        guard_post=unit.guard_post,
        state="sent",
        deadline=now + deps.order_ack_timeout,
        next_units=rest,
        school=entry.school,
        kind=entry.kind,
        silent=entry.silent,
        location=entry.location,
        pressed_at=entry.pressed_at,
        ordered_at=now,
    )
    if not await deps.repo.insert_order(order):
        return None
    deps.orders_hub.publish(order, topic=order.unit_id)
    deps.metrics.orders.labels(str(rank) if rank <= 3 else "4+").inc()
    await _delivery(deps=deps, order=order, state="sent")
    return order


async def _delivery(
    *, deps: Deps, order: Order, state: DeliveryState, reason: str | None = None
) -> None:
    deps.metrics.deliveries.labels("unit_stream", state).inc()
    await deps.publisher.publish(
        deps.topics.notifications_deliveries,
        str(order.alarm_id),
        DeliveryChanged(
            event_id=stable_id("delivery", str(order.order_id), state),
            notification_id=order.order_id,
            alarm_id=order.alarm_id,
            recipient=f"unit:{order.unit_id}",
            channel="unit_stream",
            state=state,
            rank=order.rank,
            distance_m=order.distance_m,
            reason=reason,
        ),
    )


async def mark_delivered(*, deps: Deps, order: Order) -> None:
    """The unit's stream has written the order out to it."""
    delivered = await deps.repo.change_order(
        order.order_id, from_states={"sent"}, state="delivered"
    )
    if delivered is not None:
        await _delivery(deps=deps, order=delivered, state="delivered")


async def acknowledge(*, deps: Deps, unit_id: str, order_id: uuid.UUID, now: datetime) -> Order:
    """The unit takes the order. Again: the same answer. LookupError: not this unit's order;
    OrderRefused: it was passed over or closed meanwhile."""
    order = await deps.repo.get_order(order_id)
    if order is None or order.unit_id != unit_id:
        raise LookupError(str(order_id))
    if order.state == "acknowledged":
        return order
    acknowledged = await deps.repo.change_order(
        order_id, from_states=OPEN, state="acknowledged", acknowledged_at=now
    )
    if acknowledged is None:
        held = await deps.repo.get_order(order_id)
        if held is not None and held.state == "acknowledged":
            return held
        reason = held.reason if held is not None else None
        raise OrderRefused(f"order is {held.state if held else 'gone'}: {reason}")
    deps.metrics.order_ack_seconds.observe((now - order.ordered_at).total_seconds())
    await _delivery(deps=deps, order=acknowledged, state="acknowledged")
    return acknowledged


async def pass_over_overdue(*, deps: Deps, now: datetime) -> int:
    """Orders not acknowledged by their deadline expire; the next unit of the ranking is told
    and the dispatchers are warned. Returns how many were passed over."""
    passed = 0
    for order in await deps.repo.overdue_orders(now):
        reason = f"not acknowledged within {deps.order_ack_timeout.total_seconds():g} s"
        expired = await deps.repo.change_order(
            order.order_id, from_states=OPEN, state="expired", reason=reason
        )
        if expired is None:
            continue  # acknowledged or closed meanwhile
        passed += 1
        deps.metrics.passed_over.inc()
        await _delivery(deps=deps, order=expired, state="expired", reason=reason)
        await _next_unit(deps=deps, order=expired, now=now)
    return passed


async def _next_unit(*, deps: Deps, order: Order, now: datetime) -> None:
    latest = await deps.repo.latest_feed_entry(order.alarm_id)
    if latest is None:
        raise RuntimeError(f"order {order.order_id} without a feed entry for its alarm")
    following = order.next_units[0] if order.next_units else None
    if following is not None:
        await _order(
            deps=deps,
            entry=latest,
            unit=following,
            rank=order.rank + 1,
            rest=order.next_units[1:],
            now=now,
        )
    warning = latest.model_copy(
        update={
            "seq": await deps.repo.next_seq(),
            "event_id": stable_id("passed-over", str(order.order_id)),
            "occurred_at": now,
            "change": "passed_over",
            "passed_over_unit": order.unit_id,
            "ordered_unit": following.unit_id if following else None,
            "nearest_units": order.next_units,
        }
    )
    if await deps.repo.insert_feed(warning):
        deps.hub.publish(warning)
        deps.metrics.feed_entries.labels("passed_over").inc()


async def _close_orders(*, deps: Deps, event: AlarmLifecycle, now: datetime) -> None:
    """The alarm has its unit (or ended): open orders are settled, the assigned unit's as
    acknowledged, the others as expired."""
    for order in await deps.repo.open_orders(event.alarm_id):
        taken = event.assigned_unit == order.unit_id
        state: DeliveryState = "acknowledged" if taken else "expired"
        reason = None if taken else f"alarm {event.state}"
        changed = await deps.repo.change_order(
            order.order_id,
            from_states=OPEN,
            state=state,
            reason=reason,
            acknowledged_at=now if taken else None,
        )
        if changed is not None:
            await _delivery(deps=deps, order=changed, state=state, reason=reason)
