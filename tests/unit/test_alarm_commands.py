"""Raising, folding, commands and deadlines through service.py with the in-memory repository."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from services.alarms import commands_service, presses_service, service
from services.alarms.deps import Deps
from services.alarms.models import Alarm
from shared.bus.background import RELAY_AFTER
from shared.events import AlarmCommand, AlarmLifecycle, CommandResolved
from shared.provisioning import County
from shared.topics import Topics
from tests.fakes.publisher import RecordingPublisher
from tests.unit.test_alarms_service import make_deps, request

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
LIFECYCLE = Topics().alarms_lifecycle


async def press(deps: Deps, at: datetime = T0, **fields: object) -> Alarm:
    accepted = await presses_service.accept_press(deps=deps, request=request(**fields), now=at)
    pressed = [
        e for e in deps.publisher.events(Topics().alarms_pressed) if e.alarm_id == accepted.alarm_id
    ]  # type: ignore[attr-defined]
    return await service.raise_alarm(deps=deps, pressed=pressed[-1], now=at)  # type: ignore[arg-type]


def lifecycle(deps: Deps) -> list[AlarmLifecycle]:
    return [e for e in deps.publisher.events(LIFECYCLE) if isinstance(e, AlarmLifecycle)]  # type: ignore[attr-defined]


def command(
    alarm: Alarm, action: str, actor: str = "alice", role: str = "dispatcher", **kw: object
) -> AlarmCommand:
    return AlarmCommand.model_validate(
        {"alarm_id": alarm.alarm_id, "action": action, "actor": actor, "role": role} | kw
    )


async def test_presses_at_a_school_with_an_open_alarm_fold_into_it(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    first = await press(deps)
    again = await press(
        deps, at=T0 + timedelta(seconds=5), location={"building": "B", "floor": 1, "room": "1"}
    )
    other_device = await press(deps, at=T0 + timedelta(seconds=9), device_id="S001-BTN2")
    assert again.alarm_id == other_device.alarm_id == first.alarm_id
    assert other_device.press_count == 3
    assert other_device.devices == ["S001-BTN1", "S001-BTN2"]
    assert other_device.severity == 2, "a second device raises the severity"
    assert len(other_device.locations) == 2
    assert len(other_device.press_alarm_ids) == 2
    events = lifecycle(deps)
    assert [(e.state, e.change, e.severity) for e in events] == [
        ("raised", "transition", 1),
        ("raised", "folded", 1),
        ("raised", "folded", 2),
    ]
    assert registry.get_sample_value("safecampus_presses_folded_total") == 2
    # the alarm id each press was answered with leads to the alarm
    for alias in other_device.press_alarm_ids:
        assert (await service.get(deps=deps, alarm_id=alias)).alarm_id == first.alarm_id  # type: ignore[union-attr]


async def test_a_press_handled_by_two_instances_at_once_counts_once(
    county: County, registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During a rebalance two instances may handle one press together: the second read the
    press's alarm before the first stored it, then found the alarm open at the school (the
    one the press raised, or the one it had just joined) and folded the press into it, so
    that one press counted twice (the fault suite caught it under connection resets)."""
    deps = make_deps(county, registry)
    first = await press(deps)
    joined = await press(deps, at=T0 + timedelta(seconds=5), device_id="S001-BTN2")
    (raising, joining) = [
        e
        for e in deps.publisher.events(Topics().alarms_pressed)  # type: ignore[attr-defined]
    ]
    real_get = deps.repo.get

    async def read_before_the_other_stored(alarm_id: uuid.UUID) -> Alarm | None:
        return None

    monkeypatch.setattr(deps.repo, "get", read_before_the_other_stored)
    for pressed in (raising, joining):
        await service.raise_alarm(deps=deps, pressed=pressed, now=T0 + timedelta(seconds=6))
    monkeypatch.setattr(deps.repo, "get", real_get)
    alarm = await service.get(deps=deps, alarm_id=first.alarm_id)
    assert alarm is not None and alarm.alarm_id == joined.alarm_id == first.alarm_id
    assert alarm.press_count == 2, "each press once"
    assert alarm.press_alarm_ids == [joining.alarm_id]
    assert [e.change for e in lifecycle(deps)] == ["transition", "folded"]


async def test_a_press_of_another_kind_adds_its_kind_to_the_alarm(
    county: County, registry: CollectorRegistry
) -> None:
    """A fire pressed at a school with an open intrusion alarm kept only `intrusion`: the
    dispatchers never learnt of the fire."""
    deps = make_deps(county, registry)
    await press(deps, kind="intrusion")
    fire = await press(deps, at=T0 + timedelta(seconds=5), kind="fire", device_id="S001-BTN2")
    again = await press(deps, at=T0 + timedelta(seconds=8), kind="fire")
    assert (fire.kind, fire.kinds) == ("intrusion", ["intrusion", "fire"])
    assert again.kinds == ["intrusion", "fire"], "each kind once"
    events = lifecycle(deps)
    assert [e.kinds for e in events] == [
        ["intrusion"],
        ["intrusion", "fire"],
        ["intrusion", "fire"],
    ]
    assert "fire" in (events[1].reason or "")


async def test_tests_do_not_fold_into_real_alarms_and_closed_alarms_take_no_folds(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    real = await press(deps)
    drill = await press(deps, test=True)
    assert drill.alarm_id != real.alarm_id and drill.test and not real.test
    await commands_service.apply_command(
        deps=deps, command=command(real, "cancel", outcome="false_alarm"), now=T0
    )
    later = await press(deps, at=T0 + timedelta(seconds=30))
    assert later.alarm_id != real.alarm_id
    outside_window = await press(deps, at=T0 + timedelta(minutes=30))
    assert outside_window.alarm_id != later.alarm_id


async def test_a_redelivered_press_changes_nothing(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    await press(deps)
    folded = await press(deps, at=T0 + timedelta(seconds=3))
    (_, second_pressed) = deps.publisher.events(Topics().alarms_pressed)  # type: ignore[attr-defined]
    again = await service.raise_alarm(
        deps=deps, pressed=second_pressed, now=T0 + timedelta(seconds=60)
    )  # type: ignore[arg-type]
    assert again.press_count == folded.press_count == 2
    assert len(lifecycle(deps)) == 2


async def test_commands_walk_the_lifecycle_once_each_with_an_audit_trail(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    alarm = await press(deps)
    steps = [
        command(alarm, "acknowledge"),
        command(alarm, "assign", unit_id="U007"),
        command(alarm, "en_route", actor="U007", role="unit"),
        command(alarm, "on_scene", actor="U007", role="unit"),
        command(alarm, "resolve", outcome="handled", reason="suspect detained"),
    ]
    for step in steps:
        result = await commands_service.apply_command(
            deps=deps, command=step, now=T0 + timedelta(seconds=10)
        )
        assert result.status == "applied", result
        repeat = await commands_service.apply_command(
            deps=deps, command=step, now=T0 + timedelta(seconds=20)
        )
        assert repeat == result, "the same command id is applied once"
    states = [e.state for e in lifecycle(deps)]
    assert states == ["raised", "acknowledged", "unit_assigned", "en_route", "on_scene", "resolved"]
    timeline = await deps.repo.timeline(alarm.alarm_id)
    assert [e.actor for e in timeline] == ["system", "alice", "alice", "U007", "U007", "alice"]
    assert timeline[-1].reason == "suspect detained" and timeline[-1].outcome == "handled"
    assert (
        registry.get_sample_value("safecampus_alarm_state_seconds_count", {"state": "resolved"})
        == 1
    )


async def test_refused_and_forbidden_commands_change_nothing(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    alarm = await press(deps)
    refused = await commands_service.apply_command(
        deps=deps, command=command(alarm, "on_scene"), now=T0
    )
    assert (refused.status, refused.reason, refused.state) == (
        "refused",
        "cannot on_scene an alarm that is raised",
        "raised",
    )
    forbidden = await commands_service.apply_command(
        deps=deps, command=command(alarm, "acknowledge", actor="U007", role="unit"), now=T0
    )
    assert forbidden.status == "forbidden"
    await commands_service.apply_command(
        deps=deps, command=command(alarm, "assign", unit_id="U007"), now=T0
    )
    other_unit = await commands_service.apply_command(
        deps=deps, command=command(alarm, "en_route", actor="U008", role="unit"), now=T0
    )
    assert (other_unit.status, other_unit.reason) == (
        "forbidden",
        "unit U008 is not the assigned unit",
    )
    missing = await commands_service.apply_command(
        deps=deps,
        command=AlarmCommand(
            alarm_id=uuid.uuid4(), action="acknowledge", actor="a", role="dispatcher"
        ),
        now=T0,
    )
    assert (missing.status, missing.reason) == ("refused", "no such alarm")
    assert [e.state for e in lifecycle(deps)] == ["raised", "unit_assigned"]


async def test_a_deadline_fires_once_even_when_checked_late_and_often(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    alarm = await press(deps)
    assert alarm.ack_deadline == T0 + timedelta(seconds=30)
    assert await service.escalate_due(deps=deps, now=T0 + timedelta(seconds=29)) == 0
    late = T0 + timedelta(minutes=5)  # the service was down past the deadline
    assert await service.escalate_due(deps=deps, now=late) == 1
    assert await service.escalate_due(deps=deps, now=late) == 0
    assert await service.escalate_due(deps=deps, now=late + timedelta(seconds=59)) == 0
    assert await service.escalate_due(deps=deps, now=late + timedelta(seconds=60)) == 1, "next step"
    escalations = [e for e in lifecycle(deps) if e.state == "escalated"]
    assert [(e.reason, e.escalation_level) for e in escalations] == [
        ("no_acknowledgement", 1),
        ("no_acknowledgement", 2),
    ]
    ack = await commands_service.apply_command(
        deps=deps, command=command(alarm, "acknowledge"), now=late + timedelta(seconds=61)
    )
    assert ack.status == "applied" and ack.state == "acknowledged"
    assert await service.escalate_due(deps=deps, now=late + timedelta(minutes=5)) == 0
    assert (
        await service.escalate_due(deps=deps, now=T0 + timedelta(minutes=15)) == 1
    )  # no unit on scene
    assert lifecycle(deps)[-1].reason == "no_unit_on_scene"


async def test_a_crash_between_change_and_publication_is_relayed_by_the_ticker(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    alarm = await press(deps)
    broken = Deps(**{**deps.__dict__, "publisher": _FailingPublisher()})
    result = await _swallow(
        commands_service.apply_command(deps=broken, command=command(alarm, "acknowledge"), now=T0)
    )
    assert result is None, "the publish failed after the change was stored"
    stored = await deps.repo.get(alarm.alarm_id)
    assert stored is not None and stored.state == "acknowledged" and len(stored.outbox) == 1
    await service.tick(deps=deps, now=T0 + RELAY_AFTER + timedelta(seconds=1))
    assert [e.state for e in lifecycle(deps)] == ["raised", "acknowledged"]
    assert (await deps.repo.get(alarm.alarm_id)).outbox == []  # type: ignore[union-attr]
    redelivered = await commands_service.apply_command(
        deps=deps,
        command=command(alarm, "acknowledge", command_id=lifecycle(deps)[-1].command_id),
        now=T0,
    )
    assert redelivered.status == "applied", "the command was applied before the crash"


class _FailingPublisher(RecordingPublisher):
    async def publish(self, topic: str, key: str, event: object) -> None:  # type: ignore[override]
        raise ConnectionError("broker down")


async def _swallow(awaitable: object) -> object:
    try:
        return await awaitable  # type: ignore[misc]
    except ConnectionError:
        return None


async def test_the_open_alarms_gauge_counts_open_alarms_by_state(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    alarm = await press(deps)
    await service.count_open(deps=deps)
    assert (
        registry.get_sample_value("safecampus_alarms_open", {"state": "raised", "test": "false"})
        == 1
    )
    await commands_service.apply_command(deps=deps, command=command(alarm, "acknowledge"), now=T0)
    await service.count_open(deps=deps)
    assert (
        registry.get_sample_value("safecampus_alarms_open", {"state": "raised", "test": "false"})
        == 0
    )
    assert (
        registry.get_sample_value(
            "safecampus_alarms_open", {"state": "acknowledged", "test": "false"}
        )
        == 1
    )
    await press(deps, school_id="S002", device_id="S002-BTN1", test=True)
    await service.count_open(deps=deps)
    assert (
        registry.get_sample_value("safecampus_alarms_open", {"state": "raised", "test": "true"})
        == 1
    )
    assert (
        registry.get_sample_value("safecampus_alarms_open", {"state": "raised", "test": "false"})
        == 0
    )


async def test_a_refused_command_is_told_on_the_bus_and_told_again_as_the_same_event(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    alarm = await press(deps)
    accepted = command(alarm, "assign", actor="notifications", role="system", unit_id="U007")
    await commands_service.apply_command(deps=deps, command=accepted, now=T0)
    refused = command(alarm, "dispatch", actor="notifications", role="system")
    await commands_service.apply_command(deps=deps, command=refused, now=T0)
    await commands_service.apply_command(deps=deps, command=refused, now=T0)  # redelivered
    told = deps.publisher.events(Topics().alarms_command_results)  # type: ignore[attr-defined]
    assert all(isinstance(e, CommandResolved) for e in told)
    assert [(e.action, e.status, e.role) for e in told] == [("dispatch", "refused", "system")] * 2
    assert told[0].event_id == told[1].event_id, "the same outcome, the same event"
    assert told[0].reason == "cannot dispatch an alarm that is unit_assigned"
    (assigned,) = [e for e in lifecycle(deps) if e.state == "unit_assigned"]
    assert assigned.command_id == accepted.command_id, "applied: the transition tells it"


async def test_a_sent_command_answers_its_result_or_pending_and_an_unknown_alarm_is_refused(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    alarm = await press(deps)
    with pytest.raises(commands_service.NoSuchAlarm):
        await commands_service.send(
            deps=deps,
            alarm_id=uuid.uuid4(),
            actor="alice",
            role="dispatcher",
            action="acknowledge",
            command_id=None,
            reason=None,
            wait_s=0.05,
        )
    asked = dict(actor="alice", role="dispatcher", action="acknowledge", reason=None, wait_s=0.05)
    pending = await commands_service.send(
        deps=deps,
        alarm_id=alarm.alarm_id,
        command_id=None,
        **asked,  # type: ignore[arg-type]
    )
    assert pending.status == "pending" and pending.action == "acknowledge"
    (sent,) = deps.publisher.events(Topics().alarms_commands)  # type: ignore[attr-defined]
    assert sent.command_id == pending.command_id, "the writer applies what was sent"
    await commands_service.apply_command(deps=deps, command=sent, now=T0)
    applied = await commands_service.send(
        deps=deps,
        alarm_id=alarm.alarm_id,
        command_id=sent.command_id,
        **asked,  # type: ignore[arg-type]
    )
    assert (applied.status, applied.state) == ("applied", "acknowledged")
