"""The contract of services.alarms.repository: the fake and MongoDB alike (conftest)."""

from __future__ import annotations

from datetime import timedelta

from services.alarms.models import Alarm, AlarmChange
from services.alarms.repository import AlarmFilter, AlarmRepository
from shared.events import (
    AlarmLifecycle,
    stable_id,
)
from tests.values import NOW, SCHOOL, pressed

SERVICE = "alarms"  # the repository under test (conftest.repo)


async def test_press_recorded_once_and_alarm_created_once(repo: AlarmRepository) -> None:
    event = pressed("p1")
    first = await repo.record_press(event)
    second = await repo.record_press(pressed("p1"))
    assert first.new and not second.new and not second.published
    assert second.event.event_id == event.event_id
    await repo.mark_press_published(event.press_id)
    assert (await repo.record_press(event)).published

    alarm = Alarm.from_press(event, SCHOOL, NOW)
    stored = await repo.create_alarm(alarm)
    again = await repo.create_alarm(
        alarm.model_copy(update={"raised_at": NOW + timedelta(seconds=5)})
    )
    assert stored.raised_at == again.raised_at == NOW
    assert (await repo.get(event.alarm_id)) == stored
    assert [a.alarm_id for a in await repo.find(AlarmFilter())] == [event.alarm_id]


async def test_alarm_compare_and_set_folds_and_finds_by_alias(repo: AlarmRepository) -> None:
    from services.alarms.models import Alarm as StoredAlarm
    from shared.events import Location

    event = pressed("fold-1")
    alarm = await repo.create_alarm(StoredAlarm.from_press(event, SCHOOL, NOW))
    lifecycle = AlarmLifecycle(
        alarm_id=alarm.alarm_id,
        state="raised",
        school=SCHOOL,
        kind="intrusion",
        silent=True,
        test=False,
        location=event.location,
        device_id="D1",
        pressed_at=NOW,
        change="folded",
    )
    alias = stable_id("alarm", "fold-2")
    changes = {
        "press_count": 2,
        "locations": [event.location, Location(building="B", floor=1, room="1")],
    }
    folded = await repo.compare_and_set(alarm, AlarmChange(changes, lifecycle, alias=alias))
    assert folded is not None and folded.version == 1 and folded.press_count == 2
    assert folded.locations[1].building == "B" and folded.outbox[0].change == "folded"
    stale = AlarmChange({"press_count": 9}, lifecycle)
    assert await repo.compare_and_set(alarm, stale) is None, "stale version"
    by_alias = await repo.get(alias)
    assert by_alias is not None and by_alias.alarm_id == alarm.alarm_id
    assert by_alias == folded, "what compare_and_set answers is what it stored"
    assert await repo.create_alarm(StoredAlarm.from_press(event, SCHOOL, NOW)) == folded, (
        "a redelivered press finds the alarm it created"
    )
    await repo.pull_outbox(alarm.alarm_id, lifecycle.event_id)
    assert (await repo.get(alarm.alarm_id)).outbox == []  # type: ignore[union-attr]
    everything = NOW + timedelta(days=1)
    assert await repo.with_outbox(older_than=everything, limit=10) == [], (
        "the last event takes the marker with it"
    )
    assert await repo.open_at_school("S1", test=False, since=NOW) is not None
    assert await repo.open_at_school("S1", test=True, since=NOW) is None


async def test_signatures_audit_results_and_the_dispatchers_views(
    repo: AlarmRepository,
) -> None:
    from services.alarms.models import CommandResult

    first, second = stable_id("press", "sig-1"), stable_id("press", "sig-2")
    assert await repo.remember_signature("sig", first, now=NOW) == first
    assert await repo.remember_signature("sig", second, now=NOW) == first, "a replay: the first"

    due_at = NOW - timedelta(seconds=1)
    late = Alarm.from_press(pressed("late"), SCHOOL, NOW).model_copy(
        update={"ack_deadline": due_at}
    )
    drill = Alarm.from_press(pressed("drill"), SCHOOL, NOW).model_copy(
        update={"test": True, "raised_at": NOW + timedelta(seconds=1)}
    )
    for alarm in (late, drill):
        await repo.create_alarm(alarm)
    assert [a.alarm_id for a in await repo.due(NOW, limit=10)] == [late.alarm_id]
    assert await repo.due(due_at - timedelta(seconds=1), limit=10) == []
    assert await repo.count_open_by_state() == {("raised", False): 1, ("raised", True): 1}
    newest_first = [a.alarm_id for a in await repo.find(AlarmFilter())]
    assert newest_first == [drill.alarm_id, late.alarm_id]
    assert [a.alarm_id for a in await repo.find(AlarmFilter(include_tests=False))] == [
        late.alarm_id
    ]
    assert await repo.find(AlarmFilter(school_id="elsewhere")) == []

    events = [
        AlarmLifecycle(
            event_id=stable_id("late", state),
            occurred_at=NOW + timedelta(seconds=i),
            alarm_id=late.alarm_id,
            state=state,  # type: ignore[arg-type]
            school=SCHOOL,
            kind="intrusion",
            silent=True,
            test=False,
            location=late.location,
            device_id="D1",
            pressed_at=NOW,
        )
        for i, state in enumerate(["raised", "acknowledged"])
    ]
    for event in [*reversed(events), *events]:  # out of order, and each twice
        await repo.append_audit(event)
    assert [e.state for e in await repo.timeline(late.alarm_id)] == ["raised", "acknowledged"]

    command_id = stable_id("command", "ack")
    assert await repo.result(command_id) is None
    result = CommandResult(
        command_id=command_id,
        alarm_id=late.alarm_id,
        action="acknowledge",
        actor="d1",
        status="applied",
        state="acknowledged",
        at=NOW,
    )
    await repo.save_result(result)
    assert await repo.result(command_id) == result


async def test_test_presses_in_a_period_are_found_by_when_they_arrived(
    repo: AlarmRepository,
) -> None:
    drill = pressed("t1").model_copy(update={"test": True})
    later = pressed("t2").model_copy(update={"test": True, "received_at": NOW + timedelta(hours=2)})
    for event in (pressed("real"), drill, later):
        await repo.record_press(event)
    found = await repo.test_presses(NOW, NOW + timedelta(hours=1))
    assert [p.press_id for p in found] == [drill.press_id]
