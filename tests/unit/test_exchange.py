"""CAP 1.2 and EIDO exports: every lifecycle state, real and test, valid against the published
schemas kept in schemas/ (whose checksums are held here), and what the schemas refuse."""

from __future__ import annotations

import uuid
from typing import Any, get_args
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
import xmlschema

from shared.events import AlarmLifecycle, AlarmState, stable_id
from shared.exchange import cap, eido
from tests.values import raised

SENDER = cap.Sender("safecampus@police.invalid", "会宁县公安局", ZoneInfo("Asia/Shanghai"))
NS = {"cap": cap.NAMESPACE}
OUTCOMES = {"resolved": "handled", "cancelled": "drill"}


def lifecycle(*, test: bool) -> list[AlarmLifecycle]:
    """An alarm through every state, in order (the assignment from acknowledged on)."""
    events, assigned = [], None
    for n, state in enumerate(get_args(AlarmState)):
        assigned = "U001" if state == "unit_assigned" else assigned
        events.append(
            raised(
                "exported",
                event_id=stable_id("exported", state),
                state=state,
                test=test,
                assigned_unit=assigned,
                outcome=OUTCOMES.get(state),
                reason="ack_timeout" if state == "escalated" else None,
                severity=1 + n % 2,
            )
        )
    return events


@pytest.mark.parametrize("test", [False, True])
def test_every_state_is_a_valid_cap_message(test: bool) -> None:
    events = lifecycle(test=test)
    seen = []
    for n, event in enumerate(events):
        xml = cap.message(event, SENDER, earlier=events[:n])
        cap.validate(xml)
        root = ET.fromstring(xml)
        seen.append(
            (
                event.state,
                root.findtext("cap:msgType", namespaces=NS),
                root.findtext("cap:status", namespaces=NS),
            )
        )
        assert root.findtext("cap:scope", namespaces=NS) == "Restricted"
        assert root.findtext("cap:sent", namespaces=NS).endswith("+08:00")  # type: ignore[union-attr]
        references = root.findtext("cap:references", namespaces=NS)
        assert (references or "").count("safecampus-") == (0 if n == 0 else n)
        circle = root.findtext("cap:info/cap:area/cap:circle", namespaces=NS)
        assert circle == f"{event.school.lat:.6f},{event.school.lon:.6f} 0.2"
    kinds = {state: (msg, status) for state, msg, status in seen}
    assert kinds["raised"][0] == "Alert" and kinds["cancelled"][0] == "Cancel"
    assert {msg for state, (msg, _) in kinds.items() if state not in ("raised", "cancelled")} == {
        "Update"
    }
    expected = {"Actual"} if not test else {"Test", "Exercise"}
    assert {status for _, status in kinds.values()} == expected
    if test:
        assert kinds["cancelled"][1] == "Exercise", "a drill cancelled as a drill"


def test_a_resolved_alarm_is_all_clear_and_a_folded_press_an_update() -> None:
    resolved = ET.fromstring(cap.message(lifecycle(test=False)[6], SENDER))
    assert resolved.findtext("cap:info/cap:responseType", namespaces=NS) == "AllClear"
    folded = raised("f", change="folded", press_count=2)
    assert cap.msg_type(folded) == "Update"


def test_cap_times_carry_the_county_offset_never_z() -> None:
    event = raised("t")
    assert cap.cap_time(event.occurred_at, ZoneInfo("Asia/Shanghai")).endswith("+08:00")
    assert cap.cap_time(event.occurred_at, ZoneInfo("UTC")).endswith("+00:00")


def test_the_cap_schema_refuses_what_breaks_it() -> None:
    good = cap.message(raised("r"), SENDER).decode()
    sent = ET.fromstring(good).findtext("cap:sent", namespaces=NS)
    assert sent is not None
    for broken in (
        good.replace(sent, sent.replace("+08:00", "Z")),  # a `Z` time
        good.replace("<status>Actual</status>", "<status>Real</status>"),
        good.replace("<scope>Restricted</scope>", ""),
    ):
        with pytest.raises(xmlschema.XMLSchemaValidationError):
            cap.validate(broken.encode())


@pytest.mark.parametrize("test", [False, True])
def test_every_state_is_a_valid_eido(test: bool) -> None:
    events = lifecycle(test=test)
    for n, event in enumerate(events):
        doc = eido.document(event, SENDER, timeline=events[: n + 1])
        eido.validate(doc)
        assert not {"personComponent", "vehicleComponent", "organizationComponent"} & set(doc)
        assert len(doc["notesComponent"]) == n + 1
        status = doc["incidentComponent"]["incidentStatusCommonRegistryText"]
        assert status == (["Closed"] if event.state in OUTCOMES else ["Active"])
        assert ("emergencyResourceComponent" in doc) == (event.assigned_unit is not None)


def test_the_eido_schema_refuses_what_breaks_it() -> None:
    good = eido.document(raised("r"), SENDER)
    broken: list[dict[str, Any]] = [
        {k: v for k, v in good.items() if k != "agencyComponent"},
        good | {"eidoVersion": "2.0"},
        good | {"incidentComponent": {"$id": str(uuid.uuid4())}},
    ]
    for doc in broken:
        with pytest.raises(eido.ValidationError):
            eido.validate(doc)
