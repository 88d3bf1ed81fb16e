"""Property tests (hypothesis): the alarm state machine under any sequence of commands, and the
press journal under a crash at any byte."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from services.alarms.journal import PressJournal
from services.alarms.lifecycle import (
    ALLOWED_FROM,
    CLOSED,
    WHO_MAY,
    AlarmView,
    Command,
    Refused,
    Timers,
    decide,
)
from shared.events import AlarmPressed, CommandAction, Location

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
TIMERS = Timers()
TARGET = {
    "dispatch": "dispatched",
    "acknowledge": "acknowledged",
    "assign": "unit_assigned",
    "en_route": "en_route",
    "on_scene": "on_scene",
    "resolve": "resolved",
    "cancel": "cancelled",
    "escalate": "escalated",
}
ROLES = ("dispatcher", "supervisor", "admin", "unit", "system")
UNITS = ("U001", "U002")

commands = st.builds(
    Command,
    action=st.sampled_from(get_args(CommandAction)),
    actor=st.sampled_from(("alice", "notifications", *UNITS)),
    role=st.sampled_from(ROLES),
    unit_id=st.none() | st.sampled_from(UNITS),
    outcome=st.none() | st.sampled_from(("handled", "false_alarm", "drill", "test", "nonsense")),
    reason=st.none()
    | st.sampled_from(("no_acknowledgement", "no_unit_on_scene", "no_unit_in_range", "other")),
)


def applied(alarm: AlarmView, updates: dict[str, object], state: str) -> AlarmView:
    """The alarm as the service stores it after a decision."""
    return replace(
        alarm,
        state=state,  # type: ignore[arg-type]
        acknowledged=alarm.acknowledged or updates.get("acknowledged_at") is not None,
        assigned_unit=updates.get("assigned_unit", alarm.assigned_unit),  # type: ignore[arg-type]
        escalation_level=updates.get("escalation_level", alarm.escalation_level),  # type: ignore[arg-type]
        ack_deadline=updates.get("ack_deadline", alarm.ack_deadline),  # type: ignore[arg-type]
        on_scene_deadline=updates.get("on_scene_deadline", alarm.on_scene_deadline),  # type: ignore[arg-type]
    )


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.tuples(commands, st.integers(0, 120)), max_size=25))
def test_any_sequence_of_commands_keeps_the_state_machine_honest(
    steps: list[tuple[Command, int]],
) -> None:
    """Whatever is sent, in whatever order: each command is applied or refused with a reason
    (never another error); it is applied only from a state and by a role the table allows and
    lands in its own state; a closed alarm never moves; an acknowledgement and the escalation
    level are never taken back; nobody is en route or on scene without an assigned unit."""
    alarm = AlarmView(
        state="raised",
        acknowledged=False,
        assigned_unit=None,
        escalation_level=0,
        ack_deadline=T0 + TIMERS.ack_timeout,
        on_scene_deadline=T0 + TIMERS.on_scene_timeout,
    )
    now = T0
    for command, seconds in steps:
        now += timedelta(seconds=seconds)
        try:
            decision = decide(alarm, command, now=now, timers=TIMERS)
        except Refused as refused:
            assert refused.reason
            continue
        assert alarm.state not in CLOSED
        assert alarm.state in ALLOWED_FROM[command.action]
        assert command.role in WHO_MAY[command.action]
        assert decision.state == TARGET[command.action]
        after = applied(alarm, decision.updates, decision.state)
        assert after.acknowledged >= alarm.acknowledged
        assert after.escalation_level >= alarm.escalation_level
        if after.state in {"en_route", "on_scene"}:
            assert after.assigned_unit is not None
        alarm = after


def pressed(n: int) -> AlarmPressed:
    press_id = uuid.UUID(int=n + 1)
    return AlarmPressed(
        press_id=press_id,
        alarm_id=press_id,
        school_id="S001",
        device_id="S001-BTN1",
        kind="intrusion",
        silent=True,
        test=False,
        location=Location(building="A", floor=1, room="101"),
        pressed_at=T0,
        received_at=T0,
    )


async def forwarded(folder: Path) -> list[AlarmPressed]:
    sent: list[AlarmPressed] = []

    async def send(event: AlarmPressed) -> None:
        sent.append(event)

    await PressJournal(folder).forward(send)
    return sent


@settings(max_examples=150, deadline=None)
@given(
    before=st.integers(0, 5),
    torn=st.floats(0, 1, exclude_max=True),
    after=st.integers(0, 5),
)
def test_a_crash_at_any_byte_loses_no_press_that_was_answered(
    before: int, torn: float, after: int
) -> None:
    """Presses appended (fsync'd, so answered 202), then a crash that leaves any prefix of the
    next line, then a restart and more presses: every answered press is forwarded once, in
    order, and the torn one (never answered) not at all."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)

        async def scenario() -> list[AlarmPressed]:
            journal = PressJournal(folder)
            for n in range(before):
                await journal.append(pressed(n))
            line = pressed(99).model_dump_json().encode() + b"\n"
            with journal.path.open("ab") as fh:  # the crash: part of a line reached the disk
                fh.write(line[: int(torn * len(line))])
            restarted = PressJournal(folder)
            restarted.claim()  # a restart holds its journal, and so may cut the torn line
            for n in range(before, before + after):
                await restarted.append(pressed(n))
            restarted.release()
            return await forwarded(folder)

        sent = asyncio.run(scenario())
        assert [e.press_id for e in sent] == [pressed(n).press_id for n in range(before + after)]
        assert not (folder / "presses.unreadable.jsonl").exists()
