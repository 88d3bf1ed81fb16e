"""The contract of services.alarms.supervision_repository: the fake and MongoDB alike."""

from __future__ import annotations

from datetime import timedelta

from services.alarms.supervision import Beat, Rules, judge, on_inspection, verdict_of
from services.alarms.supervision_repository import Heard, SupervisionRepository
from tests.values import NOW, SCHOOL

SERVICE = "supervision"  # the repository under test (conftest.repo)
LIMIT = timedelta(seconds=200)
RULES = Rules(offline_after=LIMIT)


def beat(at: object = NOW, *, battery: int | None = 80, tamper: bool = False) -> Beat:
    return Beat(
        sent_at=at,
        received_at=at,
        battery_pct=battery,
        tamper=tamper,
        power="battery",
        firmware="1.2.0",
    )


async def test_enrolment_is_once_and_counts_silence_from_then(repo: SupervisionRepository) -> None:
    assert await repo.enroll([("D1", SCHOOL), ("D2", SCHOOL)], watch_at=NOW + LIMIT) == 2
    assert await repo.enroll([("D1", SCHOOL)], watch_at=NOW + 2 * LIMIT) == 0
    moved = SCHOOL.model_copy(update={"school_id": "S2"})
    assert await repo.enroll([("D2", moved)], watch_at=NOW + 2 * LIMIT) == 0
    d2 = await repo.get("D2")
    assert d2 is not None and d2.school == moved and d2.watch_at == NOW + LIMIT
    d1 = await repo.get("D1")
    assert d1 is not None and d1.watch_at == NOW + LIMIT and d1.last_seen is None
    assert await repo.overdue(NOW + LIMIT - timedelta(seconds=1), limit=10) == []
    assert {h.device_id for h in await repo.overdue(NOW + LIMIT, limit=10)} == {"D1", "D2"}


async def test_heard_moves_forward_only_and_keeps_the_newest_beat(
    repo: SupervisionRepository,
) -> None:
    await repo.enroll([("D1", SCHOOL)], watch_at=NOW + LIMIT)
    later = NOW + timedelta(seconds=60)
    await repo.record_heard([Heard("D1", later, later + LIMIT, beat(later, battery=50))])
    await repo.record_heard([Heard("D1", NOW, NOW + LIMIT)])  # an older proof: moves nothing
    await repo.record_heard([Heard("NOT-ENROLLED", NOW, NOW + LIMIT)])
    d1 = await repo.get("D1")
    assert d1 is not None and d1.last_seen == later and d1.watch_at == later + LIMIT
    assert d1.beat is not None and d1.beat.battery_pct == 50
    assert await repo.get("NOT-ENROLLED") is None


async def test_offline_raised_once_and_only_while_still_silent(repo: SupervisionRepository) -> None:
    await repo.enroll([("D1", SCHOOL), ("D2", SCHOOL)], watch_at=NOW)
    late = NOW + timedelta(seconds=5)
    d1, d2 = [await repo.get(d) for d in ("D1", "D2")]
    assert d1 is not None and d2 is not None
    raised = judge(d1, {"offline": True}, now=late)
    assert raised.offline_raised and len(raised.events) == 1
    assert await repo.compare_and_set(d1, raised, now=late)
    assert not await repo.compare_and_set(d1, raised, now=late), "decided once"
    # D2 beats between being found overdue and the raise: no trouble
    await repo.record_heard([Heard("D2", late, late + LIMIT)])
    assert not await repo.compare_and_set(d2, judge(d2, {"offline": True}, now=late), now=late)

    stored = await repo.get("D1")
    assert stored is not None and stored.watch_at is None and set(stored.troubles) == {"offline"}
    assert [e.status for e in stored.outbox] == ["raised"]
    assert [h.device_id for h in await repo.troubled(limit=10)] == ["D1"]
    assert await repo.overdue(late, limit=10) == []
    assert await repo.count_troubles() == {"offline": 1}
    assert [h.device_id for h in await repo.find(in_trouble=True, school_id=None, limit=5)] == [
        "D1"
    ]
    await repo.pull_outbox("D1", stored.outbox[0].event_id)
    pulled = await repo.get("D1")
    assert pulled is not None and pulled.outbox == []


async def test_heard_again_after_offline_restores_it(repo: SupervisionRepository) -> None:
    await repo.enroll([("D1", SCHOOL)], watch_at=NOW)
    d1 = await repo.get("D1")
    assert d1 is not None
    assert await repo.compare_and_set(d1, judge(d1, {"offline": True}, now=NOW), now=NOW)
    back = NOW + timedelta(seconds=30)
    await repo.record_heard([Heard("D1", back, back + LIMIT, beat(back))])
    d1 = await repo.get("D1")
    assert d1 is not None and d1.watch_at == back + LIMIT
    change = on_inspection(d1, RULES, now=back)
    assert [(e.kind, e.status) for e in change.events] == [("offline", "restored")]
    assert await repo.compare_and_set(d1, change, now=back)
    assert await repo.troubled(limit=10) != [] and await repo.count_troubles() == {}
    restored = await repo.get("D1")
    assert restored is not None
    assert [e.status for e in restored.outbox] == ["raised", "restored"]
    for event in restored.outbox:
        await repo.pull_outbox("D1", event.event_id)
    assert await repo.troubled(limit=10) == []
    assert await repo.find(in_trouble=True, school_id=None, limit=5) == []
    assert len(await repo.find(in_trouble=False, school_id="S1", limit=5)) == 1


async def test_a_tamper_and_a_low_battery_at_once(repo: SupervisionRepository) -> None:
    await repo.enroll([("D1", SCHOOL)], watch_at=NOW + LIMIT)
    d1 = await repo.get("D1")
    assert d1 is not None
    change = judge(d1, verdict_of(beat(battery=5, tamper=True), RULES), now=NOW)
    assert sorted(e.kind for e in change.events) == ["battery_low", "tamper"]
    assert await repo.compare_and_set(d1, change, now=NOW)
    assert await repo.count_troubles() == {"battery_low": 1, "tamper": 1}


async def test_the_clock_resumes_after_a_gap(repo: SupervisionRepository) -> None:
    gap = timedelta(seconds=10)
    assert await repo.tick(NOW, gap=gap) == NOW
    assert await repo.tick(NOW + timedelta(seconds=5), gap=gap) == NOW
    assert await repo.tick(NOW + timedelta(seconds=14), gap=gap) == NOW
    back = NOW + timedelta(seconds=30)
    assert await repo.tick(back, gap=gap) == back, "16 s without a round: resumed"
