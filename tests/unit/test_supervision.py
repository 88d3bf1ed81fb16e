"""Button supervision (DESIGN §5.4) on fakes: what heartbeats, silence and time make of a
device's troubles, decided once and announced once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.alarms import supervision_service as service
from services.alarms.metrics import AlarmMetrics
from services.alarms.supervision import Beat, HeartbeatRequest, Rules, verdict_of
from services.alarms.supervision_service import StaleHeartbeat, Supervision, gap_for
from shared.events import DeviceTrouble
from shared.topics import Topics
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.supervision import InMemorySupervisionRepository
from tests.values import NOW, SCHOOL

LIMIT = timedelta(seconds=200)
RULES = Rules(offline_after=LIMIT, repeat_every=timedelta(hours=4))


def supervision(*devices: str) -> Supervision:
    return Supervision(
        repo=InMemorySupervisionRepository(),
        publisher=RecordingPublisher(),
        topics=Topics(),
        metrics=AlarmMetrics(CollectorRegistry()),
        devices=frozenset(devices),
        rules=RULES,
        gap=timedelta(seconds=70),
        commit_window_s=0.001,
    )


def announced(s: Supervision) -> list[tuple[str, str, str]]:
    """(device, kind, status) of every trouble event published, in order."""
    assert isinstance(s.publisher, RecordingPublisher)
    events = s.publisher.events(Topics().devices_troubles)
    return [(e.device_id, e.kind, e.status) for e in events if isinstance(e, DeviceTrouble)]


def request(**fields: Any) -> HeartbeatRequest:
    values: dict[str, Any] = {
        "sent_at": NOW.isoformat(),
        "battery_pct": 90,
        "tamper": False,
        "power": "battery",
        "firmware": "2.1.0",
    }
    return HeartbeatRequest.model_validate(values | fields)


async def beat(s: Supervision, device: str, at: datetime, **fields: Any) -> int:
    return await service.heartbeat(
        supervision=s,
        device_id=device,
        request=request(**fields),
        signed_at=int(at.timestamp()),
        now=at,
    )


async def rounds(s: Supervision, start: datetime, end: datetime, every_s: float = 2) -> None:
    """Supervision rounds from `start` to `end`, as the background round runs them."""
    at = start
    while at <= end:
        await service.supervise(supervision=s, now=at)
        at += timedelta(seconds=every_s)


async def enrolled(*devices: str) -> Supervision:
    s = supervision(*devices)
    await s.repo.enroll([(d, SCHOOL) for d in devices], watch_at=NOW + LIMIT)
    return s


def test_the_battery_between_its_marks_tells_nothing() -> None:
    def battery(pct: int | None, power: str = "battery") -> bool | None:
        at = NOW
        b = Beat(
            sent_at=at,
            received_at=at,
            battery_pct=pct,
            tamper=False,
            power=power,  # type: ignore[arg-type]
            firmware="1",
        )
        return verdict_of(b, RULES).get("battery_low")

    assert battery(19) is True
    assert battery(22) is None, "between 20 and 25: no change either way"
    assert battery(25) is False
    assert battery(None, "mains") is False
    assert battery(3, "mains") is False, "on mains a flat battery cannot stop an alarm"


def test_the_gap_leaves_a_device_time_to_beat_after_a_restart() -> None:
    gap = gap_for(RULES, heartbeat_every_s=60, round_s=2)
    assert gap == timedelta(seconds=70)
    # a pause just under the gap, then one interval to the next beat: still within the limit
    assert gap + timedelta(seconds=60) < LIMIT
    assert gap_for(Rules(offline_after=timedelta(seconds=4)), heartbeat_every_s=1, round_s=1) == (
        timedelta(seconds=3)
    ), "never less than three rounds"


async def test_a_healthy_heartbeat_costs_no_trouble_write() -> None:
    s = await enrolled("D1")
    assert await beat(s, "D1", NOW) == 60
    health = await s.repo.get("D1")
    assert health is not None and health.last_seen == NOW and health.version == 0
    assert health.beat is not None and health.beat.firmware == "2.1.0"
    assert announced(s) == []


async def test_tamper_raises_at_once_and_is_restored_once() -> None:
    s = await enrolled("D1")
    await beat(s, "D1", NOW, tamper=True)
    await beat(s, "D1", NOW + timedelta(seconds=60), tamper=True)
    await beat(s, "D1", NOW + timedelta(seconds=120), tamper=False)
    await beat(s, "D1", NOW + timedelta(seconds=180), tamper=False)
    assert announced(s) == [("D1", "tamper", "raised"), ("D1", "tamper", "restored")]
    health = await s.repo.get("D1")
    assert health is not None and health.troubles == {} and health.outbox == []


async def test_low_battery_is_repeated_on_its_period_while_it_lasts() -> None:
    s = await enrolled("D1")
    for minutes in range(0, 9 * 60, 30):  # a beat every half hour for nine hours, battery flat
        at = NOW + timedelta(minutes=minutes)
        await beat(s, "D1", at, battery_pct=10)
        await service.supervise(supervision=s, now=at)
    at = NOW + timedelta(hours=9)
    await beat(s, "D1", at, battery_pct=100)
    assert announced(s) == [
        ("D1", "battery_low", "raised"),
        ("D1", "battery_low", "repeated"),  # at 4 h
        ("D1", "battery_low", "repeated"),  # at 8 h
        ("D1", "battery_low", "restored"),
    ]
    assert isinstance(s.publisher, RecordingPublisher)
    counts = [e.count for e in s.publisher.events(Topics().devices_troubles)]  # type: ignore[attr-defined]
    assert counts == [1, 2, 3, 3]


async def test_a_silent_device_goes_offline_after_the_limit_and_back_when_heard() -> None:
    s = await enrolled("D1", "D2")
    await rounds(s, NOW, NOW + LIMIT - timedelta(seconds=2))
    assert announced(s) == [], "not before the limit"
    # D2 keeps beating; D1 says nothing
    for second in range(0, 400, 60):
        await beat(s, "D2", NOW + timedelta(seconds=second))
    await rounds(s, NOW + LIMIT, NOW + LIMIT + timedelta(seconds=4))
    assert announced(s) == [("D1", "offline", "raised")]
    back = NOW + LIMIT + timedelta(seconds=30)
    await beat(s, "D1", back)
    assert announced(s)[-1] == ("D1", "offline", "restored")
    await rounds(s, back, back + timedelta(seconds=10))
    assert len(announced(s)) == 2


async def test_a_press_is_a_proof_of_life() -> None:
    s = await enrolled("D1")
    await rounds(s, NOW, NOW + LIMIT + timedelta(seconds=2))
    assert announced(s) == [("D1", "offline", "raised")]
    pressed = NOW + LIMIT + timedelta(seconds=10)
    service.heard_press(
        supervision=s, device_id="D1", signed_at=int(pressed.timestamp()), now=pressed
    )
    await s.beats.close()  # the batch the press joined is written
    await rounds(s, pressed, pressed + timedelta(seconds=2))
    assert announced(s)[-1] == ("D1", "offline", "restored")


async def test_no_offline_storm_after_supervision_itself_was_stopped() -> None:
    s = await enrolled("D1", "D2")
    await rounds(s, NOW, NOW + timedelta(seconds=20))
    for device in ("D1", "D2"):
        await beat(s, device, NOW + timedelta(seconds=20))
    # every instance down for ten minutes: nobody could be heard
    back = NOW + timedelta(minutes=10)
    await rounds(s, back, back + LIMIT - timedelta(seconds=2))
    await beat(s, "D2", back + timedelta(seconds=30))  # D2 beats again after the restart
    assert announced(s) == [], "silence during the outage is not the devices' fault"
    await rounds(s, back + LIMIT, back + LIMIT + timedelta(seconds=4))
    assert announced(s) == [("D1", "offline", "raised")], "D1 stayed silent after the grace"


async def test_a_replayed_heartbeat_is_refused_and_proves_nothing_new() -> None:
    s = await enrolled("D1")
    await beat(s, "D1", NOW + timedelta(seconds=60))
    with pytest.raises(StaleHeartbeat):
        await beat(s, "D1", NOW)
    assert (
        service.heard_at(now=NOW, signed_at=int((NOW + timedelta(seconds=90)).timestamp())) == NOW
    )


async def test_two_instances_raise_one_trouble() -> None:
    a = await enrolled("D1")
    b = supervision("D1")
    b.repo = a.repo
    b.publisher = a.publisher
    await rounds(a, NOW, NOW + LIMIT)
    at = NOW + LIMIT + timedelta(seconds=2)
    await service.supervise(supervision=a, now=at)
    await service.supervise(supervision=b, now=at)
    await beat(a, "D1", at, tamper=True)
    await beat(b, "D1", at + timedelta(seconds=1), tamper=True)
    assert sorted(announced(a)) == sorted(
        [("D1", "offline", "raised"), ("D1", "offline", "restored"), ("D1", "tamper", "raised")]
    )


class _DownThenUp(RecordingPublisher):
    """A broker that refuses every publish until it is back."""

    down = True

    async def publish(self, topic: str, key: str, event: Any) -> None:  # type: ignore[override]
        if self.down:
            raise ConnectionError("broker down")
        await super().publish(topic, key, event)


async def test_a_trouble_raised_while_the_broker_is_away_is_published_when_it_is_back() -> None:
    s = await enrolled("D1")
    s.publisher = _DownThenUp()
    assert await beat(s, "D1", NOW, tamper=True) == 60, "the heartbeat is recorded all the same"
    health = await s.repo.get("D1")
    assert health is not None and set(health.troubles) == {"tamper"}
    assert [e.status for e in health.outbox] == ["raised"]
    s.publisher.down = False
    await service.supervise(supervision=s, now=NOW + timedelta(seconds=1))
    assert announced(s) == [], "younger than RELAY_AFTER: its own publish may be under way"
    await service.supervise(supervision=s, now=NOW + timedelta(seconds=6))
    assert announced(s) == [("D1", "tamper", "raised")]
    health = await s.repo.get("D1")
    assert health is not None and health.outbox == []
