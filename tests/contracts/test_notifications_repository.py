"""The contract of services.notifications.repository: the fake and MongoDB alike (conftest)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.notifications.board import UnitBoard
from services.notifications.repository import NotificationRepository
from shared.events import (
    PositionReported,
    stable_id,
    utcnow,
)
from tests.values import DEG_PER_M, NOW, SCHOOL, nearest

SERVICE = "notifications"  # the repository under test (conftest.repo)


async def test_an_older_fix_never_replaces_a_newer_one(
    repo: NotificationRepository,
) -> None:
    newer = PositionReported(unit_id="u", lat=35.70, lon=105.0, recorded_at=NOW)
    older = PositionReported(
        unit_id="u", lat=35.60, lon=105.0, recorded_at=NOW - timedelta(seconds=30)
    )
    await repo.upsert_positions([older, newer])  # newest of a batch wins, whatever the order
    await repo.upsert_positions([older])  # an older batch later changes nothing
    await repo.upsert_positions([newer])  # nor does a redelivery
    (unit,) = await repo.load_units()
    assert (unit.unit_id, unit.lat, unit.recorded_at) == ("u", 35.70, NOW)


async def test_nearest_units_skip_busy_units_and_keep_the_newest_status(
    repo: NotificationRepository,
) -> None:
    from shared.events import UnitStatusChanged

    await repo.upsert_positions(
        [
            PositionReported(
                unit_id=u, lat=SCHOOL.lat + m * DEG_PER_M, lon=SCHOOL.lon, recorded_at=NOW
            )
            for u, m in (("busy", 100), ("free", 500), ("silent", 900))
        ]
    )

    def change(unit: str, status: str, version: int) -> UnitStatusChanged:
        return UnitStatusChanged(
            unit_id=unit, status=status, previous="available", actor=unit, version=version
        )  # type: ignore[arg-type]

    await repo.set_status(change("busy", "busy", 1))
    await repo.set_status(change("free", "busy", 1))
    await repo.set_status(change("free", "available", 2))
    await repo.set_status(change("free", "busy", 1))  # older, redelivered: ignored
    await repo.set_status(change("ghost", "busy", 1))  # status before any position: kept apart
    board = UnitBoard()
    board.merge(await repo.load_units())

    def ranking(guard_post_radius_m: float) -> list[tuple[str, bool]]:
        found = nearest(board, limit=5, guard_post_radius_m=guard_post_radius_m)
        return [(u.unit_id, u.guard_post) for u in found]

    assert ranking(200) == [("free", False), ("silent", False)]
    await repo.set_status(change("free", "on_post", 3))
    board.merge(await repo.load_units())
    assert ranking(5000)[0] == ("free", True)


async def test_orders_compare_and_set_overdue_and_per_unit_replay(
    repo: NotificationRepository,
) -> None:
    from services.notifications.models import FeedEntry, Order, OrderChange
    from services.notifications.orders import order_delivery
    from shared.events import DeliveryChanged, Location

    alarm_id = stable_id("alarm", "orders")
    location = Location(building="A", floor=1, room="101")

    def order(unit: str, deadline: datetime) -> Order:
        return Order(
            order_id=stable_id("order", unit),
            alarm_id=alarm_id,
            unit_id=unit,
            rank=1,
            distance_m=120.5,
            state="sent",
            deadline=deadline,
            school=SCHOOL,
            kind="fire",
            silent=False,
            location=location,
            pressed_at=NOW,
            ordered_at=NOW,
        )

    first = order("U1", NOW - timedelta(seconds=1))
    later = order("U2", NOW + timedelta(minutes=1))

    def sent(o: Order) -> DeliveryChanged:
        return order_delivery(o, "sent")

    assert await repo.insert_order(first, delivery=sent(first))
    assert await repo.insert_order(later, delivery=sent(later))
    assert not await repo.insert_order(first, delivery=sent(first)), "one order per id, ever"
    assert [o.unit_id for o in await repo.overdue_orders(NOW)] == ["U1"]
    late = order_delivery(first, "expired", "late")
    expiry = {"state": "expired", "reason": "late"}
    expired = await repo.change_order(
        first, OrderChange(expiry, {"sent", "delivered"}, late, hand_over=True)
    )
    assert expired is not None and (expired.state, expired.reason) == ("expired", "late")
    assert expired == (await repo.get_order(first.order_id)), "as stored, to the millisecond"
    assert await repo.overdue_orders(NOW) == [expired], "its next unit is still owed"
    await repo.handed_over(first.order_id)
    delivered = order_delivery(first, "delivered")
    refused = OrderChange({"state": "delivered"}, {"sent"}, delivered)
    assert await repo.change_order(first, refused) is None, "a refused change leaves no event"
    assert await repo.pending_deliveries(older_than=utcnow() - timedelta(minutes=1), limit=10) == []
    soon = utcnow() + timedelta(seconds=1)
    pending = dict(await repo.pending_deliveries(older_than=soon, limit=10))
    assert [e.state for e in pending[first.order_id]] == ["sent", "expired"]
    assert [e.state for e in pending[later.order_id]] == ["sent"]
    for event in pending[first.order_id]:
        await repo.pull_delivery(first.order_id, event.event_id)
    left = await repo.pending_deliveries(older_than=soon, limit=10)
    assert [oid for oid, _ in left] == [later.order_id]
    assert await repo.overdue_orders(NOW) == []
    assert [o.unit_id for o in await repo.open_orders(alarm_id)] == ["U2"]
    unlogged = await repo.unlogged(older_than=utcnow() + timedelta(seconds=1), limit=10)
    assert {o.order_id for o in unlogged if isinstance(o, Order)} == {
        first.order_id,
        later.order_id,
    }, "not yet known to be in the orders log"
    assert await repo.unlogged(older_than=utcnow() - timedelta(minutes=1), limit=10) == []
    assert await repo.orders_after("U2", 0, limit=10) == [], "no position yet"
    await repo.mark_logged("Order", str(later.order_id), 42)
    assert [o.seq for o in await repo.orders_after("U2", 0, limit=10)] == [42]
    assert await repo.orders_after("U2", 42, limit=10) == []
    still = await repo.unlogged(older_than=utcnow() + timedelta(seconds=1), limit=10)
    assert [o.order_id for o in still if isinstance(o, Order)] == [first.order_id]
    states = await repo.order_states([first.order_id, later.order_id])
    assert states == {first.order_id: "expired", later.order_id: "sent"}

    entries = [
        FeedEntry(
            event_id=stable_id("feed", state),
            alarm_id=alarm_id,
            state=state,
            school=SCHOOL,
            kind="fire",
            silent=False,
            test=False,
            location=location,
            pressed_at=NOW,
            occurred_at=NOW + timedelta(seconds=second),
        )
        for second, state in enumerate(("raised", "acknowledged"))
    ]
    for entry in entries:
        assert await repo.insert_feed(entry)
    await repo.mark_logged("FeedEntry", str(entries[1].event_id), 7)
    assert [e.seq for e in await repo.feed_after(0, limit=10)] == [7], "the logged one only"
    latest = await repo.latest_feed_entry(alarm_id)
    assert latest is not None and latest.state == "acknowledged"
    held = await repo.feed_entry(str(entries[0].event_id))
    assert held is not None and held.state == "raised"


async def test_outbound_jobs_are_leased_to_one_sender_and_settled_as_stored(
    repo: NotificationRepository,
) -> None:
    from services.notifications.outbound import OutboundJob

    alarm_id = stable_id("alarm", "outbound")
    jobs = [
        OutboundJob(
            notification_id=stable_id("job", str(i)),
            alarm_id=alarm_id,
            channel="webhook",
            recipient="webhook:county",
            url="http://127.0.0.1:9/hook",
            body={"i": i},
            next_attempt_at=NOW - timedelta(seconds=i),
            created_at=NOW,
        )
        for i in range(3)
    ]
    for job in jobs:
        assert await repo.insert_outbound(job)
    lease = timedelta(seconds=30)
    claimed = await repo.claim_outbound(NOW, lease=lease, limit=2)
    assert [j.body["i"] for j in claimed] == [2, 1], "the longest due first"
    assert all(j.leased_until == NOW + lease for j in claimed)
    (last,) = await repo.claim_outbound(NOW, lease=lease, limit=5)  # the others are leased
    assert last.body["i"] == 0
    assert await repo.claim_outbound(NOW + lease - timedelta(seconds=1), lease=lease, limit=5) == []
    again = await repo.claim_outbound(NOW + lease + timedelta(seconds=1), lease=lease, limit=5)
    assert len(again) == 3, "a lease that ran out frees the job"
    settled = await repo.settle_outbound(again[0], state="delivered", attempts=1, leased_until=None)
    assert settled.state == "delivered"
    later = await repo.claim_outbound(NOW + 2 * lease + timedelta(seconds=2), lease=lease, limit=5)
    assert settled.notification_id not in {j.notification_id for j in later}, "delivered: done"
    assert len(later) == 2


async def test_device_messages_once_each_and_read_since(
    repo: NotificationRepository,
) -> None:
    from services.notifications.models import DeviceMessage

    messages = [
        DeviceMessage(
            notification_id=stable_id("message", str(i)),
            device_id="D1",
            alarm_id=stable_id("alarm", "messages"),
            text=f"民警 {i} 正在赶来",
            unit_id="U1",
            distance_m=None,
            created_at=NOW + timedelta(seconds=i),
        )
        for i in range(3)
    ]
    for message in reversed(messages):
        assert await repo.insert_device_message(message)
    assert not await repo.insert_device_message(messages[0]), "one per notification id"
    assert await repo.device_messages("D1", since=NOW + timedelta(seconds=1)) == messages[1:]
    assert await repo.device_messages("D2", since=NOW) == []
