"""The in-memory fake of services.notifications.repository; held to the real one by
tests/contracts/test_notifications_repository.py."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from services.notifications.board import BoardUnit
from services.notifications.models import DeviceMessage, Feed, FeedEntry, Order, OrderChange
from services.notifications.outbound import OutboundJob
from services.notifications.repository import OPEN
from shared.events import (
    DeliveryChanged,
    DeliveryState,
    PositionReported,
    SchoolPlanChanged,
    UnitStatusChanged,
    newest_per_unit,
)


class InMemoryNotificationRepository:
    def __init__(self) -> None:
        self.positions: dict[str, PositionReported] = {}
        self.statuses: dict[str, UnitStatusChanged] = {}
        self.feed: dict[str, Feed] = {}
        self.orders: dict[uuid.UUID, Order] = {}
        self.order_outbox: dict[uuid.UUID, list[DeliveryChanged]] = {}
        self.outbound: dict[uuid.UUID, OutboundJob] = {}
        self.messages: dict[uuid.UUID, DeviceMessage] = {}
        self.handovers_due: set[uuid.UUID] = set()
        self.plans: dict[str, SchoolPlanChanged] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def upsert_positions(self, fixes: list[PositionReported]) -> None:
        for fix in newest_per_unit(fixes):
            held = self.positions.get(fix.unit_id)
            if held is None or held.recorded_at < fix.recorded_at:
                self.positions[fix.unit_id] = fix

    async def save_plan(self, plan: SchoolPlanChanged) -> None:
        held = self.plans.get(plan.school_id)
        if held is None or held.version < plan.version:
            self.plans[plan.school_id] = plan

    async def load_plans(self, *, changed_since: datetime | None = None) -> list[SchoolPlanChanged]:
        return list(self.plans.values())

    async def set_status(self, change: UnitStatusChanged) -> None:
        held = self.statuses.get(change.unit_id)
        if held is None or held.version < change.version:
            self.statuses[change.unit_id] = change

    async def load_units(self, *, changed_since: datetime | None = None) -> list[BoardUnit]:
        ids = self.positions.keys() | self.statuses.keys()
        return [
            BoardUnit(
                unit_id,
                lat=fix.lat if (fix := self.positions.get(unit_id)) else None,
                lon=fix.lon if fix else None,
                recorded_at=fix.recorded_at if fix else None,
                status=status.status if (status := self.statuses.get(unit_id)) else None,
                status_version=status.version if status else 0,
            )
            for unit_id in sorted(ids)
        ]

    async def insert_feed(self, entry: Feed) -> bool:
        if str(entry.event_id) in self.feed:
            return False
        self.feed[str(entry.event_id)] = entry
        return True

    async def feed_after(self, seq: int, *, limit: int) -> list[Feed]:
        logged = [e for e in self.feed.values() if e.seq is not None and e.seq > seq]
        return sorted(logged, key=lambda e: e.seq or 0)[:limit]

    async def mark_logged(self, kind: str, ident: str, position: int) -> None:
        if kind == Order.__name__:
            order = self.orders[uuid.UUID(ident)]
            self.orders[order.order_id] = order.model_copy(update={"seq": position})
        else:
            self.feed[ident] = self.feed[ident].model_copy(update={"seq": position})

    async def unlogged(self, *, older_than: datetime, limit: int) -> list[Feed | Order]:
        entries = [e for e in self.feed.values() if e.seq is None and e.occurred_at <= older_than]
        orders = [o for o in self.orders.values() if o.seq is None and o.ordered_at <= older_than]
        return [*entries[:limit], *orders[:limit]]

    async def orders_of_alarm(self, alarm_id: uuid.UUID) -> list[Order]:
        return [o for o in self.orders.values() if o.alarm_id == alarm_id]

    async def order_states(self, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, DeliveryState]:
        return {o: self.orders[o].state for o in order_ids if o in self.orders}

    async def feed_entry(self, event_id: str) -> FeedEntry | None:
        held = self.feed.get(event_id)
        return held if isinstance(held, FeedEntry) else None

    async def latest_feed_entry(self, alarm_id: uuid.UUID) -> FeedEntry | None:
        entries = [
            e for e in self.feed.values() if isinstance(e, FeedEntry) and e.alarm_id == alarm_id
        ]
        return max(entries, key=lambda e: e.occurred_at) if entries else None

    async def insert_order(self, order: Order, *, delivery: DeliveryChanged) -> bool:
        if order.order_id in self.orders:
            return False
        self.orders[order.order_id] = order
        self.order_outbox[order.order_id] = [delivery]
        return True

    async def get_order(self, order_id: uuid.UUID) -> Order | None:
        return self.orders.get(order_id)

    async def delete_order(self, order_id: uuid.UUID) -> None:
        self.orders.pop(order_id, None)
        self.order_outbox.pop(order_id, None)  # as in MongoDB: the outbox goes with the order

    async def change_order(self, order: Order, change: OrderChange) -> Order | None:
        held = self.orders.get(order.order_id)
        if held is None or held.state not in change.from_states:
            return None
        self.orders[order.order_id] = held.model_copy(update=change.fields)
        self.order_outbox.setdefault(order.order_id, []).append(change.delivery)
        if change.hand_over:
            self.handovers_due.add(order.order_id)
        return self.orders[order.order_id]

    async def handed_over(self, order_id: uuid.UUID) -> None:
        self.handovers_due.discard(order_id)

    async def pending_deliveries(
        self, *, older_than: datetime, limit: int
    ) -> list[tuple[uuid.UUID, list[DeliveryChanged]]]:
        found = [
            (oid, [e for e in events if e.occurred_at <= older_than])
            for oid, events in self.order_outbox.items()
        ]
        return [(oid, events) for oid, events in found if events][:limit]

    async def pull_delivery(self, order_id: uuid.UUID, event_id: uuid.UUID) -> None:
        events = self.order_outbox.get(order_id, [])
        self.order_outbox[order_id] = [e for e in events if e.event_id != event_id]

    async def overdue_orders(self, now: datetime) -> list[Order]:
        overdue = [o for o in self.orders.values() if o.state in OPEN and o.deadline < now]
        return overdue + [self.orders[oid] for oid in sorted(self.handovers_due, key=str)]

    async def open_orders(self, alarm_id: uuid.UUID) -> list[Order]:
        return [o for o in self.orders.values() if o.alarm_id == alarm_id and o.state in OPEN]

    async def orders_after(self, unit_id: str, seq: int, *, limit: int) -> list[Order]:
        mine = sorted(
            (o for o in self.orders.values() if o.unit_id == unit_id and (o.seq or 0) > seq),
            key=lambda o: o.seq or 0,
        )
        return mine[:limit]

    async def latest_orders(self, unit_id: str, *, limit: int) -> list[Order]:
        return (await self.orders_after(unit_id, 0, limit=len(self.orders)))[-limit:]

    async def insert_outbound(self, job: OutboundJob) -> bool:
        if job.notification_id in self.outbound:
            return False
        self.outbound[job.notification_id] = job
        return True

    async def claim_outbound(
        self, now: datetime, *, lease: timedelta, limit: int
    ) -> list[OutboundJob]:
        due = sorted(
            (
                j
                for j in self.outbound.values()
                if j.state == "queued"
                and j.next_attempt_at <= now
                and (j.leased_until is None or j.leased_until < now)
            ),
            key=lambda j: j.next_attempt_at,
        )[:limit]
        for job in due:
            self.outbound[job.notification_id] = job.model_copy(
                update={"leased_until": now + lease}
            )
        return [self.outbound[j.notification_id] for j in due]

    async def settle_outbound(self, job: OutboundJob, **changes: Any) -> OutboundJob:
        held = self.outbound[job.notification_id]
        self.outbound[job.notification_id] = held.model_copy(update=changes)
        return self.outbound[job.notification_id]

    async def outbound_for_alarm(self, alarm_id: uuid.UUID) -> list[OutboundJob]:
        """A test's view of the jobs of an alarm; not part of the repository."""
        return [j for j in self.outbound.values() if j.alarm_id == alarm_id]

    async def insert_device_message(self, message: DeviceMessage) -> bool:
        if message.notification_id in self.messages:
            return False
        self.messages[message.notification_id] = message
        return True

    async def device_messages(self, device_id: str, *, since: datetime) -> list[DeviceMessage]:
        return sorted(
            (
                m
                for m in self.messages.values()
                if m.device_id == device_id and m.created_at >= since
            ),
            key=lambda m: m.created_at,
        )
