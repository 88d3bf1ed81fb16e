"""Notification logic: the unit-position read model, the dispatcher feed, and unit orders.

Who is told: dispatchers always (the feed). Units: the ranking of fresh, dispatchable units
(the school's staffed guard post first, then by distance; the radius doubled step by step when
nobody is in range). The first unit gets an order; one that does not acknowledge it in time is
passed over for the next, and the dispatchers are warned. One order per alarm and unit, ever:
its id derives from both, so a redelivered event or a restart sends nothing twice.

Feed entries and orders are stored (the decision, once) and then appended to their log topics,
which every instance streams from (streams.py). The loop with alarms is closed by commands on
`alarms.commands`: the first order sent dispatches the alarm, a unit accepting its order is
assigned to it, and nobody left to ask escalates it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from services.notifications.board import UnitBoard
from services.notifications.metrics import NotificationMetrics
from services.notifications.models import DeviceMessage, FeedEntry, Order
from services.notifications.outbound import (
    Endpoint,
    OutboundJob,
    Outcome,
    RetryPolicy,
    classify,
    encode,
    request_headers,
)
from services.notifications.repository import OPEN, NotificationRepository
from services.notifications.streams import LogWriter
from shared.bus import RELAY_AFTER, Afterwards, Publisher
from shared.events import (
    AlarmCommand,
    AlarmLifecycle,
    CommandResolved,
    DeadLetter,
    DeliveryChanged,
    DeliveryChannel,
    DeliveryState,
    NearbyUnit,
    PositionReported,
    UnitStatusChanged,
    stable_id,
    utcnow,
)
from shared.provisioning import County
from shared.topics import Topics

log = logging.getLogger(__name__)

# Once the alarm reaches one of these, nobody needs to be asked to go any more.
ORDERS_CLOSED_BY = frozenset({"unit_assigned", "en_route", "on_scene", "resolved", "cancelled"})


@dataclass(frozen=True)
class Deps:
    repo: NotificationRepository
    log: LogWriter
    metrics: NotificationMetrics
    radius_m: float
    top_k: int
    position_max_age_s: float
    publisher: Publisher
    topics: Topics
    board: UnitBoard = field(default_factory=UnitBoard)
    radius_widenings: int = 2
    guard_post_radius_m: float = 200.0
    order_ack_timeout: timedelta = timedelta(seconds=20)
    county: County | None = None
    webhooks: list[Endpoint] = field(default_factory=list)
    webhook_secret: str | None = None
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    device_keys: dict[str, str] = field(default_factory=dict)
    signature_window_s: int = 300
    # delivery events leave the order's outbox after the handler (unit tests: at once)
    afterwards: Afterwards = field(default_factory=lambda: Afterwards("deliveries", inline=True))


class OrderRefused(Exception):
    """An acknowledgement the order's state does not allow (409), with the reason."""


async def record_positions(*, deps: Deps, fixes: list[PositionReported]) -> None:
    """Onto the board, and into its stored copy before the batch is committed (the batches
    are READ_MODEL_BATCH: seconds long, so few writes)."""
    deps.board.move(fixes)
    await deps.repo.upsert_positions(fixes)


async def record_status(*, deps: Deps, change: UnitStatusChanged) -> None:
    deps.board.set_status(change)
    await deps.repo.set_status(change)


async def refresh_board(*, deps: Deps, since: datetime | None) -> None:
    """Merge what the stored copy holds (all of it at start-up; then what changed since the
    last round, e.g. written by another instance consuming other partitions)."""
    deps.board.merge(await deps.repo.load_units(changed_since=since))


def nearest_units(
    *,
    deps: Deps,
    lat: float,
    lon: float,
    now: datetime,
    without: frozenset[str] | set[str] = frozenset(),
) -> tuple[list[NearbyUnit], float]:
    """The ranking and the radius that found it: fresh, dispatchable units (not `without`),
    the staffed guard post first, then closest first, at most top_k. Nobody within the radius:
    double it, at most `radius_widenings` times."""
    radius = deps.radius_m
    for widening in range(deps.radius_widenings + 1):
        radius = deps.radius_m * 2**widening
        found = deps.board.nearest(
            lat=lat,
            lon=lon,
            radius_m=radius,
            limit=deps.top_k,
            fresh_since=now - timedelta(seconds=deps.position_max_age_s),
            guard_post_radius_m=deps.guard_post_radius_m,
            without=without,
        )
        if found:
            return found, radius
    return [], radius


async def on_lifecycle(*, deps: Deps, event: AlarmLifecycle, now: datetime) -> FeedEntry | None:
    """Tell the dispatchers (feed, once per event), then the units: the first order on
    `raised`; open orders closed once a unit is assigned or the alarm ends. Each step is
    idempotent, so a redelivered event completes what a crash interrupted."""
    first_order = event.state == "raised" and event.change == "transition" and not event.test
    entry = _feed_entry(deps=deps, event=event, now=now)
    if first_order and entry.nearest_units:
        entry, inserted = await _feed_and_first_order(deps=deps, event=event, entry=entry, now=now)
    else:
        entry, inserted = await _add_to_feed(deps=deps, event=event, entry=entry)
    if first_order:
        await _queue_webhooks(deps=deps, entry=entry, now=now)
        if entry.nearest_units:
            await _command(deps, event.alarm_id, "dispatch", reason="first unit ordered")
        else:
            await _give_up(deps=deps, alarm_id=event.alarm_id)
    if event.state in ORDERS_CLOSED_BY:
        await _close_orders(deps=deps, event=event, now=now)
    if event.state == "unit_assigned" and event.assigned_unit is not None:
        await tell_the_school(deps=deps, event=event, unit_id=event.assigned_unit, now=now)
    return entry if inserted else None


async def _command(
    deps: Deps, alarm_id: uuid.UUID, action: str, *, key: str = "", **fields: str | None
) -> None:
    """A system command to the alarms service (the single writer); its id derives from the
    alarm, the action and `key`, so sending it again is applied once."""
    command = AlarmCommand.model_validate(
        {
            "command_id": stable_id("notifications-command", str(alarm_id), action, key),
            "alarm_id": alarm_id,
            "action": action,
            "actor": "notifications",
            "role": "system",
            **fields,
        }
    )
    await deps.publisher.publish(deps.topics.alarms_commands, str(alarm_id), command)
    deps.metrics.commands.labels(action).inc()


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
    refusal = latest.model_copy(
        update={
            "event_id": stable_id("refused", str(result.command_id)),
            "occurred_at": now,
            "change": "refused",
            "reason": result.reason,
            "command_id": result.command_id,
            "actor": result.actor,
            "nearest_units": [],
            "passed_over_unit": None,
            "ordered_unit": None,
            "seq": None,
        }
    )
    if await _push_feed(deps=deps, entry=refusal, label="refused") is None:
        await _append_if_unlogged(deps, await deps.repo.feed_entry(str(refusal.event_id)))
    if result.action == "assign" and result.role == "system" and result.unit_id:
        await _refuse_acceptance(deps=deps, result=result)


async def _refuse_acceptance(*, deps: Deps, result: CommandResolved) -> None:
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
        await _append(deps, closed)


async def _give_up(*, deps: Deps, alarm_id: uuid.UUID) -> None:
    """Nobody is left to ask: the alarm escalates (the alarms service refuses it if a unit is
    assigned meanwhile)."""
    await _command(deps, alarm_id, "escalate", reason="no_unit_in_range")


async def _feed_and_first_order(
    *, deps: Deps, event: AlarmLifecycle, entry: FeedEntry, now: datetime
) -> tuple[FeedEntry, bool]:
    """The feed entry and the first unit's order, written at once: the order no longer waits
    for the feed entry's round trip. A redelivered event finds its feed entry held from the
    first time; that ranking stands. If the unit ranked first now is another, the order just
    written for it is taken back before anyone is told, and the held ranking's first unit
    gets its order (unless it has it already)."""
    first, *rest = entry.nearest_units
    planned = _plan_order(deps=deps, entry=entry, unit=first, rank=1, rest=rest, now=now)
    sent = order_delivery(planned, "sent")
    (entry, inserted), written = await asyncio.gather(
        _add_to_feed(deps=deps, event=event, entry=entry),
        deps.repo.insert_order(planned, delivery=sent),
    )
    held_first = entry.nearest_units[0] if entry.nearest_units else None
    if held_first is not None and held_first.unit_id == first.unit_id:
        if written:
            await _announce_order(deps=deps, order=planned, sent=sent)
            if event.received_at is not None:
                elapsed = utcnow() - event.received_at
                deps.metrics.raised_to_unit.observe(elapsed.total_seconds())
        else:
            await _append_if_unlogged(deps, await deps.repo.get_order(planned.order_id))
        return entry, inserted
    if written:
        await deps.repo.delete_order(planned.order_id)
        log.warning(
            "redelivered alarm ranked anew: the new first unit's order taken back",
            extra={"alarm_id": str(entry.alarm_id), "unit_id": first.unit_id},
        )
    if held_first is not None:
        held_rest = entry.nearest_units[1:]
        await _order(
            deps=deps,
            planned=_plan_order(
                deps=deps, entry=entry, unit=held_first, rank=1, rest=held_rest, now=now
            ),
        )
    return entry, inserted


def _feed_entry(*, deps: Deps, event: AlarmLifecycle, now: datetime) -> FeedEntry:
    """The event as the dispatchers see it; on `raised`, with the ranking of the nearest units.
    Positioned when appended to the feed log."""
    nearby: list[NearbyUnit] = []
    radius: float | None = None
    if event.state == "raised" and event.change == "transition":
        nearby, radius = nearest_units(
            deps=deps, lat=event.school.lat, lon=event.school.lon, now=now
        )
        if not nearby:
            deps.metrics.no_unit_in_range.inc()
        elif radius > deps.radius_m:
            deps.metrics.radius_widened.inc()
    return FeedEntry(
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
        devices=event.devices or [event.device_id],
        reason=event.reason,
        command_id=event.command_id,
        actor=event.actor,
    )


async def _add_to_feed(
    *, deps: Deps, event: AlarmLifecycle, entry: FeedEntry
) -> tuple[FeedEntry, bool]:
    """The event's feed entry, and whether it is new. A redelivered event finds the entry it
    made before, and appends it to the log if that did not happen (or is not known to have
    happened). No read before the insert: that read was one more round trip per alarm."""
    stored = await _push_feed(deps=deps, entry=entry, label=event.state)
    if stored is not None:
        if entry.radius_m is not None and event.received_at is not None:
            deps.metrics.raised_to_dispatcher.observe(
                (utcnow() - event.received_at).total_seconds()
            )
        return stored, True
    held = await deps.repo.feed_entry(str(event.event_id))
    if held is None:
        raise RuntimeError(f"feed entry {event.event_id} neither inserted nor found")
    await _append_if_unlogged(deps, held)
    return held, False


async def _append(deps: Deps, item: FeedEntry | Order) -> None:
    """Append a stored entry or order to its log (every instance streams it from there); its
    position is recorded on the stored copy afterwards."""
    if isinstance(item, FeedEntry):
        topic, key, ident = deps.topics.notifications_feed, str(item.alarm_id), str(item.event_id)
    else:
        topic, key, ident = deps.topics.notifications_orders, item.unit_id, str(item.order_id)
    position = await deps.log.append(topic, key, item)
    await deps.afterwards.run(deps.repo.mark_logged(type(item).__name__, ident, position))


async def _append_if_unlogged(deps: Deps, item: FeedEntry | Order | None) -> None:
    """For a redelivery or a retry that finds the item stored: append it unless it is known to
    be in the log (a record appended twice is streamed once: streams.Tail)."""
    if item is not None and item.seq is None:
        await _append(deps, item)


async def relay_unlogged(*, deps: Deps, now: datetime) -> int:
    """Append entries and orders stored RELAY_AFTER ago but not known to be in their logs (the
    process stopped between the two); returns how many."""
    items = await deps.repo.unlogged(older_than=now - RELAY_AFTER, limit=200)
    for item in items:
        await _append(deps, item)
    return len(items)


def order_id(alarm_id: uuid.UUID, unit_id: str) -> uuid.UUID:
    return stable_id("order", str(alarm_id), unit_id)


async def _order(*, deps: Deps, planned: Order) -> Order | None:
    """Send the planned order to its unit, unless the unit already has its order for the alarm
    (then None: the insert finds the order's id taken)."""
    sent = order_delivery(planned, "sent")
    if not await deps.repo.insert_order(planned, delivery=sent):
        await _append_if_unlogged(deps, await deps.repo.get_order(planned.order_id))
        return None
    await _announce_order(deps=deps, order=planned, sent=sent)
    return planned


def _plan_order(
    *,
    deps: Deps,
    entry: FeedEntry,
    unit: NearbyUnit,
    rank: int,
    rest: list[NearbyUnit],
    now: datetime,
) -> Order:
    """`unit`'s order for the entry's alarm."""
    return Order(
        order_id=order_id(entry.alarm_id, unit.unit_id),
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
        devices=entry.devices,
        pressed_at=entry.pressed_at,
        ordered_at=now,
    )


async def _announce_order(*, deps: Deps, order: Order, sent: DeliveryChanged) -> None:
    """A stored order out to its unit's stream; its `sent` event (the one in its outbox)
    published after the handler."""
    await _append(deps, order)
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
    **changes: Any,
) -> Order | None:
    """Compare-and-set of the order's state, its delivery event in the same write (the
    order's outbox), then published. None if the order was not in `from_states`."""
    event = order_delivery(order, state, reason)
    changed = await deps.repo.change_order(
        order, from_states=from_states, delivery=event, state=state, reason=reason, **changes
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
    many. Younger ones are left to the handler's own publish (shared.bus.RELAY_AFTER)."""
    relayed = 0
    for order_id, events in await deps.repo.pending_deliveries(
        older_than=now - RELAY_AFTER, limit=200
    ):
        for event in events:
            await _relay_delivery(deps, order_id, event)
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
    await _command(
        deps,
        order.alarm_id,
        "assign",
        key=str(order.order_id),
        unit_id=order.unit_id,
        reason=f"accepted order {order.order_id}",
    )


async def pass_over_overdue(*, deps: Deps, now: datetime) -> int:
    """Orders not acknowledged by their deadline expire; the next unit of the ranking is told
    and the dispatchers are warned. The next order and the warning come first (both are
    idempotent): a round that fails half-way finds the order still overdue and completes it.
    Returns how many were passed over."""
    passed = 0
    for order in await deps.repo.overdue_orders(now):
        reason = f"not acknowledged within {deps.order_ack_timeout.total_seconds():g} s"
        await _next_unit(deps=deps, order=order, now=now)
        expired = await _change_order(
            deps=deps, order=order, from_states=OPEN, state="expired", reason=reason
        )
        if expired is None:
            continue  # acknowledged or closed meanwhile
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
        await _order(
            deps=deps,
            planned=_plan_order(
                deps=deps,
                entry=latest,
                unit=following,
                rank=order.rank + 1,
                rest=ranking[1:],
                now=now,
            ),
        )
    else:
        await _give_up(deps=deps, alarm_id=order.alarm_id)
    warning = latest.model_copy(
        update={
            "event_id": stable_id("passed-over", str(order.order_id)),
            "occurred_at": now,
            "change": "passed_over",
            "passed_over_unit": order.unit_id,
            "ordered_unit": following.unit_id if following else None,
            "nearest_units": ranking,
            "seq": None,
        }
    )
    if await _push_feed(deps=deps, entry=warning, label="passed_over") is None:
        await _append_if_unlogged(deps, await deps.repo.feed_entry(str(warning.event_id)))


async def _rank_again(*, deps: Deps, entry: FeedEntry, now: datetime) -> list[NearbyUnit]:
    """The ranking made at raise time is used up: rank from fresh positions, without the units
    this alarm has already asked."""
    asked = {o.unit_id for o in await deps.repo.orders_of_alarm(entry.alarm_id)}
    ranking, _ = nearest_units(
        deps=deps, lat=entry.school.lat, lon=entry.school.lon, now=now, without=asked
    )
    return ranking


async def _push_feed(*, deps: Deps, entry: FeedEntry, label: str) -> FeedEntry | None:
    """Store a feed entry once and, if it is new, append it to the feed log; the entry, or
    None if it was stored before."""
    if not await deps.repo.insert_feed(entry):
        return None
    await _append(deps, entry)
    deps.metrics.feed_entries.labels(label).inc()
    return entry


async def _close_orders(*, deps: Deps, event: AlarmLifecycle, now: datetime) -> None:
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


def notification_id(alarm_id: uuid.UUID, recipient: str, *about: str) -> uuid.UUID:
    """One notification per alarm and recipient (and `about`: the assigned unit), whatever
    happens."""
    return stable_id("notification", str(alarm_id), recipient, *about)


async def _queue_webhooks(*, deps: Deps, entry: FeedEntry, now: datetime) -> None:
    """Every webhook receiver is told of a raised alarm, once."""
    for endpoint in deps.webhooks:
        recipient = f"webhook:{endpoint.name}"
        nid = notification_id(entry.alarm_id, recipient)
        body = {"notification_id": str(nid)} | entry.model_dump(
            mode="json", exclude={"seq", "event_id"}
        )
        await _queue(
            deps=deps, job=_job(nid, entry.alarm_id, "webhook", recipient, endpoint.url, body, now)
        )


def _job(
    nid: uuid.UUID,
    alarm_id: uuid.UUID,
    channel: Literal["webhook", "sms"],
    recipient: str,
    url: str,
    body: dict[str, Any],
    now: datetime,
) -> OutboundJob:
    return OutboundJob(
        notification_id=nid,
        alarm_id=alarm_id,
        channel=channel,
        recipient=recipient,
        url=url,
        body=body,
        next_attempt_at=now,
        created_at=now,
    )


async def _queue(*, deps: Deps, job: OutboundJob) -> None:
    if await deps.repo.insert_outbound(job):
        await _outbound_delivery(deps=deps, job=job, state="queued")


async def _outbound_delivery(
    *, deps: Deps, job: OutboundJob, state: DeliveryState, reason: str | None = None
) -> None:
    deps.metrics.deliveries.labels(job.channel, state).inc()
    event = delivery_changed(
        nid=job.notification_id,
        alarm_id=job.alarm_id,
        recipient=job.recipient,
        channel=job.channel,
        state=state,
        reason=reason,
    )
    await deps.publisher.publish(deps.topics.notifications_deliveries, str(job.alarm_id), event)


def delivery_changed(
    *,
    nid: uuid.UUID,
    alarm_id: uuid.UUID,
    recipient: str,
    channel: DeliveryChannel,
    state: DeliveryState,
    reason: str | None = None,
    rank: int | None = None,
    distance_m: float | None = None,
) -> DeliveryChanged:
    """The event of a notification's state; its id derives from the notification and the
    state, so a state published again is the same event."""
    return DeliveryChanged(
        event_id=stable_id("delivery", str(nid), state),
        notification_id=nid,
        alarm_id=alarm_id,
        recipient=recipient,
        channel=channel,
        state=state,
        rank=rank,
        distance_m=distance_m,
        reason=reason,
    )


def help_on_the_way(unit_id: str, callsign: str, distance_m: float | None) -> str:
    if distance_m is None:
        return (
            f"警方已出警：{callsign}（{unit_id}）正赶往学校。"  # noqa: RUF001
            f" Help is on the way: {callsign} ({unit_id})."
        )
    distance = round(distance_m / 50) * 50 or 50
    return (
        f"警方已出警：{callsign}（{unit_id}）距学校约 {distance} 米。"  # noqa: RUF001
        f" Help is on the way: {callsign} ({unit_id}), about {distance} m away."
    )


async def _distance_of(
    *, deps: Deps, event: AlarmLifecycle, unit_id: str, now: datetime
) -> float | None:
    """How far the unit was: from its order for the alarm, else from its latest fix."""
    order = await deps.repo.get_order(order_id(event.alarm_id, unit_id))
    if order is not None:
        return order.distance_m
    return deps.board.distance(unit_id, lat=event.school.lat, lon=event.school.lon)


async def tell_the_school(
    *, deps: Deps, event: AlarmLifecycle, unit_id: str, now: datetime
) -> None:
    """'Help is on the way', with the assigned unit and its distance, once per assignment
    (whoever assigned it): on the buttons that pressed (shown without a sound), and by SMS to
    the school's contact unless the alarm is silent or a test; a silent alarm never makes
    anything at the school ring. Every step is an insert by a stable id: a retry after a
    failure half-way tells nobody twice."""
    unit = deps.county.unit(unit_id) if deps.county else None
    distance = await _distance_of(deps=deps, event=event, unit_id=unit_id, now=now)
    text = help_on_the_way(unit_id, unit.callsign if unit else unit_id, distance)
    for device_id in event.devices or [event.device_id]:
        recipient = f"device:{device_id}"
        message = DeviceMessage(
            notification_id=notification_id(event.alarm_id, recipient, unit_id),
            device_id=device_id,
            alarm_id=event.alarm_id,
            text=text,
            unit_id=unit_id,
            distance_m=distance,
            created_at=now,
        )
        if await deps.repo.insert_device_message(message):
            deps.metrics.deliveries.labels("device", "sent").inc()
    school = deps.county.school(event.school.school_id) if deps.county else None
    if event.silent or event.test or deps.sms_gateway_url is None:
        return
    if school is None or not school.contact_phone:
        return
    recipient = f"sms:{school.school_id}"
    nid = notification_id(event.alarm_id, recipient, unit_id)
    body = {"notification_id": str(nid), "to": school.contact_phone, "text": text}
    await _queue(
        deps=deps, job=_job(nid, event.alarm_id, "sms", recipient, deps.sms_gateway_url, body, now)
    )


OUTBOUND_LEASE = timedelta(seconds=30)
OUTBOUND_BATCH = 20


async def send_outbound(*, deps: Deps, client: httpx.AsyncClient, now: datetime) -> int:
    """POST every due job (webhooks, SMS) once; returns how many were tried."""
    jobs = await deps.repo.claim_outbound(now, lease=OUTBOUND_LEASE, limit=OUTBOUND_BATCH)
    await asyncio.gather(*(_send_one(deps=deps, client=client, job=job, now=now) for job in jobs))
    return len(jobs)


async def _send_one(
    *, deps: Deps, client: httpx.AsyncClient, job: OutboundJob, now: datetime
) -> None:
    raw = encode(job.body)
    headers = request_headers(
        job, raw, webhook_secret=deps.webhook_secret, sms_token=deps.sms_gateway_token
    )
    try:
        response = await client.post(job.url, content=raw, headers=headers)
        outcome = classify(response.status_code)
    except httpx.HTTPError as exc:  # unreachable, timed out, refused: try again later
        outcome = Outcome(delivered=False, error=f"{type(exc).__name__}: {exc}"[:300])
    attempts = job.attempts + 1
    if outcome.delivered:
        settled = await deps.repo.settle_outbound(
            job, state="delivered", attempts=attempts, leased_until=None
        )
        await _outbound_delivery(deps=deps, job=settled, state="delivered")
        return
    if outcome.retryable and attempts < deps.retry.max_attempts:
        deps.metrics.outbound_retries.labels(job.channel).inc()
        await deps.repo.settle_outbound(
            job,
            attempts=attempts,
            last_error=outcome.error,
            next_attempt_at=now + deps.retry.delay(attempts, deps.rng),
            leased_until=None,
        )
        return
    await deps.repo.settle_outbound(
        job,
        state="failed",
        attempts=attempts,
        last_error=outcome.error,
        leased_until=None,
    )
    reason = f"{outcome.error} after {attempts} tries"
    await _outbound_delivery(deps=deps, job=job, state="failed", reason=reason)
    await _dead_letter(deps=deps, job=job, reason=reason)


async def _dead_letter(*, deps: Deps, job: OutboundJob, reason: str) -> None:
    deps.metrics.outbound_dead_letters.labels(job.channel).inc()
    log.error(
        "outbound message dead-lettered",
        extra={"recipient": job.recipient, "alarm_id": str(job.alarm_id), "error": reason},
    )
    await deps.publisher.publish(
        Topics.dlq(deps.topics.notifications_deliveries),
        str(job.alarm_id),
        DeadLetter(
            topic=job.recipient,
            partition=-1,
            offset=job.attempts + 1,
            key=str(job.alarm_id),
            service="notifications",
            error=reason,
            payload=encode(job.body).decode(),
        ),
    )
