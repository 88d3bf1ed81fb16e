"""Every transition of the alarm state machine, every refusal, and who may do what."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.alarms.lifecycle import (
    ALLOWED_FROM,
    CLOSED,
    OPEN,
    AlarmView,
    Command,
    Refused,
    Timers,
    decide,
    due_escalation,
)

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
TIMERS = Timers()
FRESH = AlarmView(
    state="raised",
    acknowledged=False,
    assigned_unit=None,
    escalation_level=0,
    ack_deadline=NOW + timedelta(seconds=30),
    on_scene_deadline=NOW + timedelta(minutes=15),
)
DISPATCHER = {"actor": "alice", "role": "dispatcher"}


def at(state: str, **fields: object) -> AlarmView:
    return replace(FRESH, state=state, **fields)  # type: ignore[arg-type]


def run(alarm: AlarmView, action: str, **kw: object) -> tuple[str, dict[str, object]]:
    decision = decide(alarm, Command(action=action, **(DISPATCHER | kw)), now=NOW, timers=TIMERS)  # type: ignore[arg-type]
    return decision.state, decision.updates


def test_the_happy_path_walks_every_state_to_resolved() -> None:
    alarm = FRESH
    steps = [
        ("dispatch", {"actor": "system", "role": "system"}, "dispatched"),
        ("acknowledge", {}, "acknowledged"),
        ("assign", {"unit_id": "U1"}, "unit_assigned"),
        ("en_route", {"actor": "U1", "role": "unit"}, "en_route"),
        ("on_scene", {"actor": "U1", "role": "unit"}, "on_scene"),
        ("resolve", {"outcome": "handled"}, "resolved"),
    ]
    for action, who, expected in steps:
        state, updates = run(alarm, action, **who)
        assert state == expected
        alarm = replace(
            alarm,
            state=state,  # type: ignore[arg-type]
            acknowledged=alarm.acknowledged or "acknowledged_at" in updates,
            assigned_unit=updates.get("assigned_unit", alarm.assigned_unit),  # type: ignore[arg-type]
        )
    assert alarm.state == "resolved"


@pytest.mark.parametrize("state", sorted(OPEN))
def test_cancel_from_any_open_state_needs_an_outcome(state: str) -> None:
    assert run(at(state, assigned_unit="U1"), "cancel", outcome="drill")[0] == "cancelled"
    with pytest.raises(Refused, match="needs an outcome"):
        run(at(state), "cancel")
    with pytest.raises(Refused, match="needs an outcome"):
        run(at(state), "cancel", outcome="handled")


@pytest.mark.parametrize("state", sorted(OPEN))
def test_resolve_from_any_open_state_records_who_and_how(state: str) -> None:
    final, updates = run(at(state), "resolve", outcome="arrest")
    assert final == "resolved"
    assert updates["outcome"] == "arrest" and updates["closed_by"] == "alice"
    assert updates["ack_deadline"] is None and updates["on_scene_deadline"] is None


@pytest.mark.parametrize("state", sorted(CLOSED))
@pytest.mark.parametrize("action", ["acknowledge", "assign", "resolve", "cancel", "on_scene"])
def test_nothing_moves_a_closed_alarm(state: str, action: str) -> None:
    with pytest.raises(Refused, match=f"alarm is {state}"):
        run(at(state, assigned_unit="U1"), action, unit_id="U2", outcome="handled")


@pytest.mark.parametrize(
    ("action", "state"),
    [
        (action, state)
        for action, allowed in ALLOWED_FROM.items()
        for state in sorted(OPEN - allowed)
        if action != "escalate"
    ],
)
def test_every_transition_not_in_the_table_is_refused_with_a_reason(
    action: str, state: str
) -> None:
    role = {"actor": "system", "role": "system"} if action == "dispatch" else {}
    with pytest.raises(Refused, match=f"cannot {action} an alarm that is {state}"):
        run(
            at(state, acknowledged=True, assigned_unit="U1"),
            action,
            unit_id="U2",
            outcome="handled",
            **role,
        )


def test_acknowledging_twice_is_refused() -> None:
    with pytest.raises(Refused, match="already acknowledged"):
        run(at("escalated", acknowledged=True), "acknowledge")


def test_assigning_acknowledges_and_reassigning_the_same_unit_is_refused() -> None:
    state, updates = run(FRESH, "assign", unit_id="U7")
    assert state == "unit_assigned" and updates["acknowledged_by"] == "alice"
    assert updates["ack_deadline"] is None
    with pytest.raises(Refused, match="already assigned"):
        run(at("unit_assigned", assigned_unit="U7"), "assign", unit_id="U7")
    assert run(at("en_route", assigned_unit="U7"), "assign", unit_id="U8")[0] == "unit_assigned"
    with pytest.raises(Refused, match="needs a unit_id"):
        run(FRESH, "assign")


@pytest.mark.parametrize("action", ["acknowledge", "assign", "cancel"])
def test_a_unit_cannot_do_the_dispatchers_work(action: str) -> None:
    with pytest.raises(Refused, match=f"role unit may not {action}"):
        run(at("raised"), action, actor="U1", role="unit", unit_id="U1", outcome="handled")


@pytest.mark.parametrize("action", ["en_route", "on_scene"])
def test_a_unit_moves_only_its_own_assignment(action: str) -> None:
    with pytest.raises(Refused, match="U2 is not the assigned unit"):
        run(at("unit_assigned", assigned_unit="U1"), action, actor="U2", role="unit")
    with pytest.raises(Refused, match="no unit is assigned"):
        run(at("escalated"), action, actor="U1", role="unit")
    assert (
        run(at("unit_assigned", assigned_unit="U1"), action, actor="U1", role="unit")[0] == action
    )
    assert run(at("unit_assigned", assigned_unit="U1"), action)[0] == action  # dispatcher for it


def test_the_assigned_unit_resolves_its_alarm_once_on_scene() -> None:
    unit = {"actor": "U1", "role": "unit"}
    final, updates = run(at("on_scene", assigned_unit="U1"), "resolve", outcome="handled", **unit)
    assert final == "resolved" and updates["closed_by"] == "U1"
    for state in ("unit_assigned", "en_route", "escalated"):
        with pytest.raises(Refused, match="a unit resolves only once on scene"):
            run(at(state, assigned_unit="U1"), "resolve", outcome="handled", **unit)
    with pytest.raises(Refused, match="U2 is not the assigned unit") as refused:
        run(
            at("on_scene", assigned_unit="U1"),
            "resolve",
            outcome="handled",
            actor="U2",
            role="unit",
        )
    assert refused.value.forbidden
    with pytest.raises(Refused, match="resolve needs an outcome"):
        run(at("on_scene", assigned_unit="U1"), "resolve", **unit)


def test_only_the_system_escalates_and_only_after_a_deadline() -> None:
    late = at("raised", ack_deadline=NOW - timedelta(seconds=1))
    with pytest.raises(Refused, match="role dispatcher may not escalate"):
        run(late, "escalate", reason="no_acknowledgement")
    system = {"actor": "timer", "role": "system"}
    state, updates = run(late, "escalate", reason="no_acknowledgement", **system)
    assert state == "escalated" and updates["escalation_level"] == 1
    assert updates["ack_deadline"] == NOW + TIMERS.escalation_step
    with pytest.raises(Refused, match="has not passed"):
        run(FRESH, "escalate", reason="no_acknowledgement", **system)
    with pytest.raises(Refused, match="has not passed"):
        run(
            at("en_route", acknowledged=True, ack_deadline=None),
            "escalate",
            reason="no_unit_on_scene",
            **system,
        )
    with pytest.raises(Refused, match="cannot escalate an alarm that is on_scene"):
        run(at("on_scene"), "escalate", reason="no_unit_on_scene", **system)


def test_due_escalation_names_the_deadline_that_passed() -> None:
    assert due_escalation(FRESH, NOW) is None
    assert due_escalation(at("raised", ack_deadline=NOW), NOW) == "no_acknowledgement"
    acked = at("acknowledged", acknowledged=True, ack_deadline=None, on_scene_deadline=NOW)
    assert due_escalation(acked, NOW) == "no_unit_on_scene"
    assert due_escalation(at("on_scene", on_scene_deadline=NOW - timedelta(hours=1)), NOW) is None
    assert due_escalation(at("resolved", ack_deadline=NOW), NOW) is None


def test_the_system_assigns_a_unit_that_accepted_its_order_and_a_unit_cannot_itself() -> None:
    system = {"actor": "notifications", "role": "system"}
    state, updates = run(at("dispatched"), "assign", unit_id="U1", **system)
    assert state == "unit_assigned" and updates["assigned_unit"] == "U1"
    assert "acknowledged_at" in updates, "a unit on its way is an acknowledged alarm"
    with pytest.raises(Refused, match="already assigned"):
        run(at("unit_assigned", assigned_unit="U1"), "assign", unit_id="U1", **system)
    with pytest.raises(Refused) as refused:
        run(at("dispatched"), "assign", unit_id="U1", actor="U1", role="unit")
    assert refused.value.forbidden


def test_nobody_in_range_escalates_unless_a_unit_is_assigned() -> None:
    system = {"actor": "notifications", "role": "system", "reason": "no_unit_in_range"}
    state, updates = run(at("raised"), "escalate", **system)
    assert (state, updates) == ("escalated", {"escalation_level": 1})
    with pytest.raises(Refused, match="U1 is assigned"):
        run(at("unit_assigned", assigned_unit="U1"), "escalate", **system)
    with pytest.raises(Refused, match="no_unit_in_range"):
        run(at("raised"), "escalate", actor="timer", role="system", reason="bored")
