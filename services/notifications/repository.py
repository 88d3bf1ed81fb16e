"""Persistence of the unit-position read model and the dispatcher feed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifications.board import BoardUnit
from services.notifications.models import (
    FEED_ITEMS,
    DeviceMessage,
    Feed,
    FeedEntry,
    Order,
    OrderChange,
)
from services.notifications.outbound import OutboundJob
from shared.events import (
    DeliveryChanged,
    DeliveryState,
    PositionReported,
    SchoolPlanChanged,
    UnitStatusChanged,
    newest_per_unit,
    utcnow,
)
from shared.mongo import (
    EPOCH,
    Document,
    as_stored,
    bson_value,
    move_forward,
    pull_from_outbox,
    to_document,
    tolerating_duplicates,
)

OPEN: set[DeliveryState] = {"queued", "sent", "delivered"}


class NotificationRepository(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def upsert_positions(self, fixes: list[PositionReported]) -> None: ...

    async def set_status(self, change: UnitStatusChanged) -> None: ...

    async def load_units(self, *, changed_since: datetime | None = None) -> list[BoardUnit]: ...

    async def save_plan(self, plan: SchoolPlanChanged) -> None: ...

    async def load_plans(
        self, *, changed_since: datetime | None = None
    ) -> list[SchoolPlanChanged]: ...

    async def insert_feed(self, entry: Feed) -> bool: ...

    async def feed_after(self, seq: int, *, limit: int) -> list[Feed]: ...

    async def mark_logged(self, kind: str, ident: str, position: int) -> None: ...

    async def unlogged(self, *, older_than: datetime, limit: int) -> list[Feed | Order]: ...

    async def orders_of_alarm(self, alarm_id: uuid.UUID) -> list[Order]: ...

    async def order_states(self, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, DeliveryState]: ...

    async def feed_entry(self, event_id: str) -> FeedEntry | None: ...

    async def latest_feed_entry(self, alarm_id: uuid.UUID) -> FeedEntry | None: ...

    async def insert_order(self, order: Order, *, delivery: DeliveryChanged) -> bool: ...

    async def get_order(self, order_id: uuid.UUID) -> Order | None: ...

    async def delete_order(self, order_id: uuid.UUID) -> None: ...

    async def change_order(self, order: Order, change: OrderChange) -> Order | None: ...

    async def handed_over(self, order_id: uuid.UUID) -> None: ...

    async def pending_deliveries(
        self, *, older_than: datetime, limit: int
    ) -> list[tuple[uuid.UUID, list[DeliveryChanged]]]: ...

    async def pull_delivery(self, order_id: uuid.UUID, event_id: uuid.UUID) -> None: ...

    async def overdue_orders(self, now: datetime) -> list[Order]:
        """Open orders past their deadline, and expired orders whose next unit is still owed
        (`hand_over`)."""
        ...

    async def open_orders(self, alarm_id: uuid.UUID) -> list[Order]: ...

    async def orders_after(self, unit_id: str, seq: int, *, limit: int) -> list[Order]: ...

    async def latest_orders(self, unit_id: str, *, limit: int) -> list[Order]: ...

    async def insert_outbound(self, job: OutboundJob) -> bool: ...

    async def claim_outbound(
        self, now: datetime, *, lease: timedelta, limit: int
    ) -> list[OutboundJob]: ...

    async def settle_outbound(self, job: OutboundJob, **changes: Any) -> OutboundJob: ...

    async def insert_device_message(self, message: DeviceMessage) -> bool: ...

    async def device_messages(self, device_id: str, *, since: datetime) -> list[DeviceMessage]: ...


class MongoNotificationRepository:
    """`unit_positions` (_id unit_id), `dispatcher_feed` (_id event_id), `orders` (_id
    order_id), `outbound`, `device_messages`. An entry or an order carries `unlogged_since`
    until it is known to be in its log topic, then its position there as `seq`."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._positions = db["unit_positions"]
        self._feed = db["dispatcher_feed"]
        self._orders = db["orders"]
        self._outbound = db["outbound"]
        self._device_messages = db["device_messages"]
        self._plans = db["school_plans"]

    async def ensure_indexes(self) -> None:
        await self._positions.create_index("updated_at")
        await self._plans.create_index("updated_at")
        for collection in (self._feed, self._orders):
            await collection.create_index("seq", name="log_position", sparse=True)
            await collection.create_index("unlogged_since", sparse=True)
        await self._feed.create_index([("alarm_id", ASCENDING), ("occurred_at", ASCENDING)])
        await self._orders.create_index([("unit_id", ASCENDING), ("seq", ASCENDING)])
        await self._orders.create_index([("state", ASCENDING), ("deadline", ASCENDING)])
        await self._orders.create_index("alarm_id")
        await self._orders.create_index("outbox_since", sparse=True)
        await self._orders.create_index("handover_due", sparse=True)
        await self._outbound.create_index([("state", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self._outbound.create_index("alarm_id")
        await self._device_messages.create_index(
            [("device_id", ASCENDING), ("created_at", ASCENDING)]
        )

    async def upsert_positions(self, fixes: list[PositionReported]) -> None:
        """Move each unit to its newest fix, unless we already hold a newer one (then the
        upsert collides with the existing _id, which is what 'already newer' looks like)."""
        moves = [
            move_forward(fix, upsert=True, updated_at=utcnow()) for fix in newest_per_unit(fixes)
        ]
        await tolerating_duplicates(self._positions.bulk_write(moves, ordered=False))

    async def set_status(self, change: UnitStatusChanged) -> None:
        """Keep the unit's newest status (by version); an older or repeated change is a no-op."""
        await tolerating_duplicates(
            self._positions.bulk_write(
                [
                    UpdateOne(
                        {
                            "_id": change.unit_id,
                            "status_version": {"$not": {"$gte": change.version}},
                        },
                        {
                            "$set": {
                                "status": change.status,
                                "status_version": change.version,
                                "updated_at": utcnow(),
                            }
                        },
                        upsert=True,
                    )
                ]
            )
        )

    async def load_units(self, *, changed_since: datetime | None = None) -> list[BoardUnit]:
        """The stored copy of the board (units written since `changed_since`, or all)."""
        query: Document = {} if changed_since is None else {"updated_at": {"$gte": changed_since}}
        return [_board_unit(doc) async for doc in self._positions.find(query)]

    async def save_plan(self, plan: SchoolPlanChanged) -> None:
        """Keep each school's newest plan (by version); an older or repeated one is a no-op."""
        doc = to_document(plan, updated_at=utcnow())
        newer = {"_id": plan.school_id, "version": {"$not": {"$gte": plan.version}}}
        await tolerating_duplicates(
            self._plans.bulk_write([UpdateOne(newer, {"$set": doc}, upsert=True)])
        )

    async def load_plans(self, *, changed_since: datetime | None = None) -> list[SchoolPlanChanged]:
        """The schools' newest plans (those written since `changed_since`, or all)."""
        query: Document = {} if changed_since is None else {"updated_at": {"$gte": changed_since}}
        return [SchoolPlanChanged.model_validate(doc) async for doc in self._plans.find(query)]

    async def insert_feed(self, entry: Feed) -> bool:
        doc = _unlogged(to_document(entry, _id=str(entry.event_id)))
        try:
            await self._feed.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def feed_after(self, seq: int, *, limit: int) -> list[Feed]:
        cursor = self._feed.find({"seq": {"$gt": seq}}).sort("seq", ASCENDING).limit(limit)
        return [FEED_ITEMS.validate_python(doc) async for doc in cursor]

    async def mark_logged(self, kind: str, ident: str, position: int) -> None:
        """The order (kind Order) or feed item (any other kind) is in its log at `position`."""
        collection = self._orders if kind == Order.__name__ else self._feed
        await collection.update_one(
            {"_id": ident}, {"$set": {"seq": position}, "$unset": {"unlogged_since": ""}}
        )

    async def unlogged(self, *, older_than: datetime, limit: int) -> list[Feed | Order]:
        """Entries and orders stored before `older_than` and not known to be in their logs,
        each collection's oldest first (`unlogged_since`: sparse, indexed)."""
        due = {"unlogged_since": {"$gte": EPOCH, "$lte": older_than}}
        found: list[Feed | Order] = []
        async for doc in self._feed.find(due).sort("unlogged_since", ASCENDING).limit(limit):
            found.append(FEED_ITEMS.validate_python(doc))
        async for doc in self._orders.find(due).sort("unlogged_since", ASCENDING).limit(limit):
            found.append(Order.model_validate(doc))
        return found

    async def orders_of_alarm(self, alarm_id: uuid.UUID) -> list[Order]:
        cursor = self._orders.find({"alarm_id": bson_value(alarm_id)})
        return [Order.model_validate(doc) async for doc in cursor]

    async def order_states(self, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, DeliveryState]:
        cursor = self._orders.find({"_id": {"$in": [str(o) for o in order_ids]}}, {"state": 1})
        return {uuid.UUID(doc["_id"]): doc["state"] async for doc in cursor}

    async def feed_entry(self, event_id: str) -> FeedEntry | None:
        doc = await self._feed.find_one({"_id": event_id})
        return FeedEntry.model_validate(doc) if doc else None

    async def latest_feed_entry(self, alarm_id: uuid.UUID) -> FeedEntry | None:
        doc = await self._feed.find_one(
            {"alarm_id": bson_value(alarm_id)}, sort=[("occurred_at", -1)]
        )
        return FeedEntry.model_validate(doc) if doc else None

    async def insert_order(self, order: Order, *, delivery: DeliveryChanged) -> bool:
        """The order with its first delivery event in its outbox; False if it exists."""
        doc = _unlogged(to_document(order, _id=str(order.order_id))) | {
            "outbox": [to_document(delivery)],
            "outbox_since": delivery.occurred_at,
        }
        try:
            await self._orders.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get_order(self, order_id: uuid.UUID) -> Order | None:
        doc = await self._orders.find_one({"_id": str(order_id)})
        return Order.model_validate(doc) if doc else None

    async def delete_order(self, order_id: uuid.UUID) -> None:
        await self._orders.delete_one({"_id": str(order_id)})

    async def change_order(self, order: Order, change: OrderChange) -> Order | None:
        """Compare-and-set on the order's state, its delivery event into the order's outbox in
        the same write; None if it was not in one of `from_states`. Every change of an order
        goes through here and sets its state, so the order as changed is `order` with
        the change's fields: an indexed update, no findAndModify. `hand_over` marks the order
        as owing its next unit (`handover_due`, until `handed_over`)."""
        delivery = change.delivery
        marks = {"handover_due": delivery.occurred_at} if change.hand_over else {}
        result = await self._orders.update_one(
            {"_id": str(order.order_id), "state": {"$in": sorted(change.from_states)}},
            {
                "$set": {key: bson_value(value) for key, value in change.fields.items()} | marks,
                "$push": {"outbox": to_document(delivery)},
                "$min": {"outbox_since": delivery.occurred_at},
            },
        )
        if result.matched_count == 0:
            return None
        changed = order.model_copy(update=change.fields)
        return Order.model_validate(as_stored(self._orders, to_document(changed)))

    async def pending_deliveries(
        self, *, older_than: datetime, limit: int
    ) -> list[tuple[uuid.UUID, list[DeliveryChanged]]]:
        """Orders with delivery events not yet published and older than `older_than`, with
        those events (`outbox_since`, the oldest one's time: sparse, indexed)."""
        cursor = self._orders.find({"outbox_since": {"$gte": EPOCH, "$lte": older_than}})
        found: list[tuple[uuid.UUID, list[DeliveryChanged]]] = []
        async for doc in cursor.limit(limit):
            events = [DeliveryChanged.model_validate(e) for e in doc["outbox"]]
            due = [e for e in events if e.occurred_at <= older_than]
            found.append((uuid.UUID(doc["_id"]), due))
        return found

    async def pull_delivery(self, order_id: uuid.UUID, event_id: uuid.UUID) -> None:
        await pull_from_outbox(self._orders, str(order_id), str(event_id))

    async def overdue_orders(self, now: datetime) -> list[Order]:
        """Open orders past their deadline: one indexed range per open state (with an `$in`
        SecantusDB scanned every order ever sent, twice a second); then the orders owing a
        handover (`handover_due`: sparse, indexed)."""
        overdue = [
            Order.model_validate(doc)
            for state in sorted(OPEN)
            async for doc in self._orders.find({"state": state, "deadline": {"$lt": now}})
        ]
        owing = self._orders.find({"handover_due": {"$gte": EPOCH}})
        return overdue + [Order.model_validate(doc) async for doc in owing]

    async def handed_over(self, order_id: uuid.UUID) -> None:
        await self._orders.update_one({"_id": str(order_id)}, {"$unset": {"handover_due": ""}})

    async def open_orders(self, alarm_id: uuid.UUID) -> list[Order]:
        """The alarm's orders still open: by the alarm_id index alone, the state checked here
        (a second field in the filter made SecantusDB scan every order)."""
        return [o for o in await self.orders_of_alarm(alarm_id) if o.state in OPEN]

    async def insert_outbound(self, job: OutboundJob) -> bool:
        try:
            await self._outbound.insert_one(to_document(job, _id=str(job.notification_id)))
        except DuplicateKeyError:
            return False
        return True

    async def claim_outbound(
        self, now: datetime, *, lease: timedelta, limit: int
    ) -> list[OutboundJob]:
        """Due queued jobs, each leased to this sender until now + lease: a job is taken by an
        update that finds it still unleased, so two senders never take the same one."""
        free = {"leased_until": {"$not": {"$gte": now}}}  # none, or the lease ran out
        due = self._outbound.find({"state": "queued", "next_attempt_at": {"$lte": now}})
        claimed: list[OutboundJob] = []
        async for doc in due.sort("next_attempt_at", ASCENDING):
            if len(claimed) == limit:
                break
            if doc.get("leased_until") is not None and doc["leased_until"] >= now:
                continue  # another sender's, for now (the filter names index fields only)
            taken = await self._outbound.update_one(
                {"_id": doc["_id"], "state": "queued"} | free,
                {"$set": {"leased_until": now + lease}},
            )
            if taken.modified_count:
                leased = doc | {"leased_until": now + lease}
                claimed.append(OutboundJob.model_validate(as_stored(self._outbound, leased)))
        return claimed

    async def settle_outbound(self, job: OutboundJob, **changes: Any) -> OutboundJob:
        """Record a try's outcome on the job (its sender holds the lease); returns it changed."""
        await self._outbound.update_one(
            {"_id": str(job.notification_id)},
            {"$set": {key: bson_value(value) for key, value in changes.items()}},
        )
        return OutboundJob.model_validate(
            as_stored(self._outbound, to_document(job.model_copy(update=changes)))
        )

    async def insert_device_message(self, message: DeviceMessage) -> bool:
        try:
            await self._device_messages.insert_one(
                to_document(message, _id=str(message.notification_id))
            )
        except DuplicateKeyError:
            return False
        return True

    async def device_messages(self, device_id: str, *, since: datetime) -> list[DeviceMessage]:
        cursor = self._device_messages.find(
            {"device_id": device_id, "created_at": {"$gte": since}}
        ).sort("created_at", ASCENDING)
        return [DeviceMessage.model_validate(doc) async for doc in cursor]

    async def orders_after(self, unit_id: str, seq: int, *, limit: int) -> list[Order]:
        cursor = (
            self._orders.find({"unit_id": unit_id, "seq": {"$gt": seq}})
            .sort("seq", ASCENDING)
            .limit(limit)
        )
        return [Order.model_validate(doc) async for doc in cursor]

    async def latest_orders(self, unit_id: str, *, limit: int) -> list[Order]:
        """The unit's newest `limit` orders in the log, oldest first."""
        cursor = (
            self._orders.find({"unit_id": unit_id, "seq": {"$gt": 0}})
            .sort("seq", DESCENDING)
            .limit(limit)
        )
        return [Order.model_validate(doc) async for doc in cursor][::-1]


def _unlogged(document: Document) -> Document:
    """A new entry or order as stored: no position yet, and marked for the relay."""
    return {k: v for k, v in document.items() if k != "seq"} | {"unlogged_since": utcnow()}


def _board_unit(doc: Document) -> BoardUnit:
    lat, lon = doc.get("lat"), doc.get("lon")
    if lat is None and "loc" in doc:  # written before the board: a GeoJSON point
        lon, lat = doc["loc"]["coordinates"]
    return BoardUnit(
        unit_id=doc["_id"],
        lat=lat,
        lon=lon,
        recorded_at=doc.get("recorded_at"),
        status=doc.get("status"),
        status_version=doc.get("status_version", 0),
    )
