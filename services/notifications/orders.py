"""Unit orders: the first unit's order, acceptance (which asks alarms to assign the unit),
pass-over to the next unit, and orders closed when the alarm has its unit or ends. One order
per alarm and unit, ever: its id derives from both, so a redelivered event or a restart sends
nothing twice."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from typing import Any

from services.notifications.deps import Deps
from services.notifications.feed import (
    announce_raise,
    append_if_unlogged,
    append_to_log,
    follow_up,
    give_up,
    held_raise,
    nearest_units,
    send_command,
)
from services.notifications.models import (
    FeedEntry,
    Order,
    OrderChange,
    delivery_changed,
    order_id,
)
from services.notifications.repository import OPEN
from shared.bus.background import RELAY_AFTER
from shared.carry import carry
from shared.events import (
    AlarmLifecycle,
    CommandResolved,
    DeliveryChanged,
    DeliveryState,
    NearbyUnit,
    stable_id,
    utcnow,
)
from shared.geo import haversine_m

log = logging.getLogger(__name__)


# Once the alarm reaches one of these, nobody needs to be asked to go any more.
ORDERS_CLOSED_BY = frozenset({"unit_assigned", "en_route", "on_scene", "resolved", "cancelled"})


class OrderRefused(Exception):
    """An acknowledgement the order's state does not allow (409), with the reason."""


async def feed_and_first_order(
    *, deps: Deps, event: AlarmLifecycle, entry: FeedEntry, now: datetime
) -> tuple[FeedEntry, bool]:
    """The feed entry and the first unit's order, stored at once and each out as soon as it
    can be: neither waits for the other's append (the order only for the entry's insert, which
    tells whether its ranking holds). A redelivered event finds its feed entry held from the
    first time; that ranking stands. If the unit ranked first now is another, the order just
    written for it is taken back before anyone is told, and the held ranking's first unit
    gets its order (unless it has it already)."""
    first, *rest = entry.nearest_units
    planned = plan_order(deps=deps, entry=entry, unit=first, rank=1, rest=rest, now=now)
    sent = order_delivery(planned, "sent")
    feed_stored = asyncio.ensure_future(deps.repo.insert_feed(entry))

    async def feed_side() -> None:
        if await feed_stored:
            await announce_raise(deps=deps, event=event, entry=entry)

    async def order_side() -> bool:
        written = await deps.repo.insert_order(planned, delivery=sent)
        if await feed_stored:  # the ranking is this one: out without waiting for the entry
            await _first_order_out(
                deps=deps, event=event, planned=planned, sent=sent, written=written
            )
        return written

    _, written = await asyncio.gather(feed_side(), order_side())
    if feed_stored.result():
        return entry, True
    entry = await held_raise(deps=deps, event=event)
    held_first = entry.nearest_units[0] if entry.nearest_units else None
    if held_first is not None and held_first.unit_id == first.unit_id:
        await _first_order_out(deps=deps, event=event, planned=planned, sent=sent, written=written)
        return entry, False
    if written:
        await deps.repo.delete_order(planned.order_id)
        log.warning(
            "redelivered alarm ranked anew: the new first unit's order taken back",
            extra={"alarm_id": str(entry.alarm_id), "unit_id": first.unit_id},
        )
    if held_first is not None:
        held_rest = entry.nearest_units[1:]
        await send_order(
            deps=deps,
            planned=plan_order(
                deps=deps, entry=entry, unit=held_first, rank=1, rest=held_rest, now=now
            ),
        )
    return entry, False


async def _first_order_out(
    *, deps: Deps, event: AlarmLifecycle, planned: Order, sent: DeliveryChanged, written: bool
) -> None:
    """The first order, stored just now (`written`) or before, out to its unit's stream."""
    if not written:
        await append_if_unlogged(deps, await deps.repo.get_order(planned.order_id))
        return
    await _announce_order(deps=deps, order=planned, sent=sent)
    if event.received_at is not None:
        deps.metrics.raised_to_unit.observe((utcnow() - event.received_at).total_seconds())


async def send_order(*, deps: Deps, planned: Order) -> Order | None:
    """Send the planned order to its unit, unless the unit already has its order for the alarm
    (then None: the insert finds the order's id taken)."""
    sent = order_delivery(planned, "sent")
    if not await deps.repo.insert_order(planned, delivery=sent):
        await append_if_unlogged(deps, await deps.repo.get_order(planned.order_id))
        return None
    await _announce_order(deps=deps, order=planned, sent=sent)
    return planned


def plan_order(
    *,
    deps: Deps,
    entry: FeedEntry,
    unit: NearbyUnit,
    rank: int,
    rest: list[NearbyUnit],
    now: datetime,
) -> Order:
    """`unit`'s order for the entry's alarm."""
    return carry(
        Order,
        entry,
        omit=("seq", "state", "reason"),  # the feed's position, the alarm's state and why
        order_id=order_id(entry.alarm_id, unit.unit_id),
        unit_id=unit.unit_id,
        rank=rank,
        distance_m=unit.distance_m,
        guard_post=unit.guard_post,
        state="sent",
        deadline=now + deps.order_ack_timeout,
        next_units=rest,
        ordered_at=now,
    )


async def _announce_order(*, deps: Deps, order: Order, sent: DeliveryChanged) -> None:
    """A stored order out to its unit's stream; its `sent` event (the one in its outbox)
    published after the handler."""
    await append_to_log(deps, order)
    deps.metrics.orders.labels(str(order.rank) if order.rank <= 3 else "4+").inc()
    await _delivered_state(deps=deps, order=order, event=sent)


def order_delivery(
    order: Order, state: DeliveryState, reason: str | None = None
) -> DeliveryChanged:
    return delivery_changed(
        nid=order.order_id,
        alarm_id=order.alarm_id,
        recipient=f"unit:{order.unit_id}",
        channel="unit_stream",
        state=state,
        reason=reason,
        rank=order.rank,
        distance_m=order.distance_m,
    )


async def _change_order(
    *,
    deps: Deps,
    order: Order,
    from_states: set[DeliveryState],
    state: DeliveryState,
    reason: str | None = None,
    hand_over: bool = False,
    **changes: Any,
) -> Order | None:
    """Compare-and-set of the order's state, its delivery event in the same write (the
    order's outbox), then published. None if the order was not in `from_states`."""
    event = order_delivery(order, state, reason)
    fields = {"state": state, "reason": reason, **changes}
    changed = await deps.repo.change_order(
        order, OrderChange(fields, from_states, event, hand_over=hand_over)
    )
    if changed is not None:
        await _delivered_state(deps=deps, order=changed, event=event)
    return changed


async def _delivered_state(*, deps: Deps, order: Order, event: DeliveryChanged) -> None:
    """Count the new state and publish its event after the handler (`deps.afterwards`): it is
    in the order's outbox, which `relay_deliveries` publishes again if this does not."""
    deps.metrics.deliveries.labels("unit_stream", event.state).inc()
    await deps.afterwards.run(_relay_delivery(deps, order.order_id, event))


async def _relay_delivery(deps: Deps, order_id: uuid.UUID, event: DeliveryChanged) -> None:
    await deps.publisher.publish(deps.topics.notifications_deliveries, str(event.alarm_id), event)
    await deps.repo.pull_delivery(order_id, event.event_id)


async def relay_deliveries(*, deps: Deps, now: datetime) -> int:
    """Publish delivery events still in orders' outboxes RELAY_AFTER after they were written
    (their publish failed, or the process stopped first), each order's in order; returns how
    many. Younger ones are left to the handler's own publish (shared.bus.background.RELAY_AFTER)."""
    relayed = 0
    for held, events in await deps.repo.pending_deliveries(older_than=now - RELAY_AFTER, limit=200):
        for event in events:
            await _relay_delivery(deps, held, event)
            relayed += 1
    return relayed


async def mark_delivered(*, deps: Deps, order: Order) -> None:
    """The unit's stream has written the order out to it."""
    await _change_order(deps=deps, order=order, from_states={"sent"}, state="delivered")


async def acknowledge(*, deps: Deps, unit_id: str, order_id: uuid.UUID, now: datetime) -> Order:
    """The unit takes the order. Again: the same answer. LookupError: not this unit's order;
    OrderRefused: it was passed over or closed meanwhile."""
    order = await deps.repo.get_order(order_id)
    if order is None or order.unit_id != unit_id:
        raise LookupError(str(order_id))
    if order.state == "sent":
        # the unit has it, whether or not its stream has recorded writing it out yet (a fast
        # terminal acknowledges before that): every order that is taken was delivered first
        order = (
            await _change_order(deps=deps, order=order, from_states={"sent"}, state="delivered")
            or order
        )
    if order.state != "acknowledged":
        acknowledged = await _change_order(
            deps=deps, order=order, from_states=OPEN, state="acknowledged", acknowledged_at=now
        )
        if acknowledged is None:
            held = await deps.repo.get_order(order_id)
            if held is None or held.state != "acknowledged":
                reason = held.reason if held is not None else None
                raise OrderRefused(f"order is {held.state if held else 'gone'}: {reason}")
            acknowledged = held
        else:
            deps.metrics.order_ack_seconds.observe((now - order.ordered_at).total_seconds())
        order = acknowledged
    # again on a repeated acknowledgement: a crash may have come between the two
    await _assign_accepting(deps=deps, order=order)
    return order


async def _assign_accepting(*, deps: Deps, order: Order) -> None:
    """The unit that accepted its order is assigned to the alarm by the alarms service, which
    may refuse (another unit assigned meanwhile, the alarm closed): the feed then shows what
    the alarm is, and the unit's order is closed when that event arrives."""
    await send_command(
        deps,
        order.alarm_id,
        "assign",
        key=str(order.order_id),
        unit_id=order.unit_id,
        reason=f"accepted order {order.order_id}",
    )


async def pass_over_overdue(*, deps: Deps, now: datetime) -> int:
    """Orders not acknowledged by their deadline expire; then the unit is shown its order
    expired, the next unit of the ranking is told and the dispatchers are warned. The expiry
    is a compare-and-set that marks the order as owing its handover, so an order acknowledged
    at the last moment is never passed on, and a round that fails after the expiry leaves the
    handover to the next round (every step after it is idempotent). Returns how many were
    passed on."""
    passed = 0
    for order in await deps.repo.overdue_orders(now):
        expired = order
        if order.state in OPEN:
            reason = f"not acknowledged within {deps.order_ack_timeout.total_seconds():g} s"
            changed = await _change_order(
                deps=deps,
                order=order,
                from_states=OPEN,
                state="expired",
                reason=reason,
                hand_over=True,
            )
            if changed is None:
                continue  # acknowledged or closed meanwhile
            expired = changed
        await append_to_log(deps, expired)
        await _next_unit(deps=deps, order=expired, now=now)
        await deps.repo.handed_over(expired.order_id)
        passed += 1
        deps.metrics.passed_over.inc()
    return passed


async def _next_unit(*, deps: Deps, order: Order, now: datetime) -> None:
    latest = await deps.repo.latest_feed_entry(order.alarm_id)
    if latest is None:
        raise RuntimeError(f"order {order.order_id} without a feed entry for its alarm")
    ranking = order.next_units or await _rank_again(deps=deps, entry=latest, now=now)
    following = ranking[0] if ranking else None
    if following is not None:
        await send_order(
            deps=deps,
            planned=plan_order(
                deps=deps,
                entry=latest,
                unit=following,
                rank=order.rank + 1,
                rest=ranking[1:],
                now=now,
            ),
        )
    else:
        await give_up(deps=deps, alarm_id=order.alarm_id)
    await follow_up(
        deps=deps,
        latest=latest,
        event_id=stable_id("passed-over", str(order.order_id)),
        now=now,
        change="passed_over",
        passed_over_unit=order.unit_id,
        ordered_unit=following.unit_id if following else None,
        nearest_units=ranking,
    )


async def _rank_again(*, deps: Deps, entry: FeedEntry, now: datetime) -> list[NearbyUnit]:
    """The ranking made at raise time is used up: rank from fresh positions, without the units
    this alarm has already asked."""
    asked = {o.unit_id for o in await deps.repo.orders_of_alarm(entry.alarm_id)}
    ranking, _ = nearest_units(
        deps=deps, lat=entry.school.lat, lon=entry.school.lon, now=now, without=asked
    )
    return ranking


async def close_orders(*, deps: Deps, event: AlarmLifecycle, now: datetime) -> None:
    """The alarm has its unit (or ended): open orders are settled, the assigned unit's as
    acknowledged, the others as expired."""
    for order in await deps.repo.open_orders(event.alarm_id):
        taken = event.assigned_unit == order.unit_id
        state: DeliveryState = "acknowledged" if taken else "expired"
        reason = None if taken else f"alarm {event.state}"
        await _change_order(
            deps=deps,
            order=order,
            from_states=OPEN,
            state=state,
            reason=reason,
            acknowledged_at=now if taken else None,
        )


async def order_assigned(
    *, deps: Deps, event: AlarmLifecycle, entry: FeedEntry, now: datetime
) -> None:
    """A unit assigned without an order of its own (the dispatcher chose it before its turn)
    gets one on its stream, already taken: its terminal learns of the assignment there."""
    unit_id = event.assigned_unit
    if unit_id is None or await deps.repo.get_order(order_id(event.alarm_id, unit_id)):
        return
    board = deps.board.get(unit_id)
    lat, lon = (board.lat, board.lon) if board else (None, None)
    if lat is None or lon is None:
        lat, lon = entry.school.lat, entry.school.lon  # no fix: no distance to tell
    unit = NearbyUnit(
        unit_id=unit_id,
        distance_m=round(haversine_m(lat, lon, entry.school.lat, entry.school.lon), 1),
        lat=lat,
        lon=lon,
    )
    rank = len(await deps.repo.orders_of_alarm(event.alarm_id)) + 1
    planned = plan_order(deps=deps, entry=entry, unit=unit, rank=rank, rest=[], now=now)
    taken = planned.model_copy(
        update={
            "state": "acknowledged",
            "acknowledged_at": now,
            "reason": f"assigned by {event.actor}",
        }
    )
    sent = order_delivery(taken, "sent")
    if await deps.repo.insert_order(taken, delivery=sent):
        await _announce_order(deps=deps, order=taken, sent=sent)


async def refuse_acceptance(*, deps: Deps, result: CommandResolved) -> None:
    """The unit accepted, the alarms service did not assign it: its order is closed with the
    reason and appended again, so the unit's stream shows it (once: streams.Tail)."""
    assert result.unit_id is not None
    order = await deps.repo.get_order(order_id(result.alarm_id, result.unit_id))
    if order is None:
        return
    await _change_order(
        deps=deps,
        order=order,
        from_states=OPEN | {"acknowledged"},
        state="expired",
        reason=f"not assigned: {result.reason}",
    )
    closed = await deps.repo.get_order(order.order_id)
    if closed is not None and closed.state == "expired":
        await append_to_log(deps, closed)
