"""An alarm's lifecycle as OASIS CAP 1.2 messages: `Alert` when it is raised, `Update` as it
moves on, `Cancel` when it is cancelled; `Test` or `Exercise` for tests and drills; `scope`
`Restricted` (police use). Built with the standard library's ElementTree (the CAP packages on
PyPI are small and unkept) and validated with xmlschema against the OASIS schema."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import xmlschema

from shared.events import AlarmLifecycle
from shared.settings import ROOT

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
SCHEMA = ROOT / "schemas" / "cap" / "CAP-v1.2.xsd"
MEDIA_TYPE = "application/cap+xml"
ET.register_namespace("", NAMESPACE)  # the messages' default namespace, no prefix

CATEGORY = {"intrusion": "Security", "violence": "Security", "fire": "Fire", "medical": "Health"}
KIND_ZH = {
    "intrusion": "入侵",
    "violence": "暴力",
    "fire": "火情",
    "medical": "医疗急救",
    "other": "其他",
}
STATE_ZH = {
    "raised": "已报警",
    "dispatched": "已派警",
    "acknowledged": "已确认",
    "unit_assigned": "已指派警力",
    "en_route": "警力在途",
    "on_scene": "警力到场",
    "resolved": "已处置",
    "cancelled": "已取消",
    "escalated": "已升级",
}


@dataclass(frozen=True)
class Sender:
    """Who the bureau is in CAP: `sender` (an address-like id), its name, its time zone."""

    sender: str
    name: str
    zone: ZoneInfo
    area_radius_m: float = 200.0


def cap_time(at: datetime, zone: ZoneInfo) -> str:
    """CAP's dateTime: local time with its offset, whole seconds, never `Z`."""
    local = at.astimezone(zone).replace(microsecond=0)
    text = local.strftime("%Y-%m-%dT%H:%M:%S%z")
    return f"{text[:-2]}:{text[-2:]}"


def identifier(event: AlarmLifecycle) -> str:
    """One message per lifecycle event: its id, without the characters CAP forbids."""
    return f"safecampus-{event.event_id}"


def msg_type(event: AlarmLifecycle) -> str:
    if event.state == "cancelled":
        return "Cancel"
    if event.state == "raised" and event.change == "transition":
        return "Alert"
    return "Update"


def status(event: AlarmLifecycle) -> str:
    if not event.test:
        return "Actual"
    return "Exercise" if event.outcome == "drill" else "Test"


def message(
    event: AlarmLifecycle, sender: Sender, *, earlier: Sequence[AlarmLifecycle] = ()
) -> bytes:
    """The CAP message of one lifecycle event; `earlier` are the alarm's events before it
    (an Update or Cancel references each earlier message)."""
    alert = ET.Element(f"{{{NAMESPACE}}}alert")
    _add(alert, "identifier", identifier(event))
    _add(alert, "sender", sender.sender)
    _add(alert, "sent", cap_time(event.occurred_at, sender.zone))
    _add(alert, "status", status(event))
    _add(alert, "msgType", msg_type(event))
    _add(alert, "scope", "Restricted")
    _add(alert, "restriction", "公安机关内部使用 (police use only)")
    if msg_type(event) != "Alert" and earlier:
        refs = (
            f"{sender.sender},{identifier(e)},{cap_time(e.occurred_at, sender.zone)}"
            for e in earlier
        )
        _add(alert, "references", " ".join(refs))
    _add(alert, "incidents", str(event.alarm_id))
    _info(alert, event, sender)
    xml: bytes = ET.tostring(alert, encoding="utf-8", xml_declaration=True)
    return xml


def _info(alert: ET.Element, event: AlarmLifecycle, sender: Sender) -> None:
    school, spot = event.school, event.location
    closed = event.state in ("resolved", "cancelled")
    info = ET.SubElement(alert, f"{{{NAMESPACE}}}info")
    _add(info, "language", "zh-CN")
    _add(info, "category", CATEGORY.get(event.kind, "Other"))
    _add(info, "event", f"校园一键报警：{KIND_ZH[event.kind]}")
    _add(
        info,
        "responseType",
        "AllClear" if event.state == "resolved" else "None" if closed else "Execute",
    )
    _add(info, "urgency", "Past" if closed else "Immediate")
    _add(info, "severity", "Extreme" if event.severity > 1 else "Severe")
    _add(info, "certainty", "Observed")
    code = ET.SubElement(info, f"{{{NAMESPACE}}}eventCode")
    _add(code, "valueName", "SafeCampus-kind")
    _add(code, "value", event.kind)
    _add(info, "senderName", sender.name)
    _add(info, "headline", f"{school.name} {KIND_ZH[event.kind]}报警 {STATE_ZH[event.state]}"[:160])
    _add(
        info,
        "description",
        f"{school.township} {school.name}，{spot.building} {spot.floor} 层 {spot.room}："
        f"{KIND_ZH[event.kind]}报警（{'无声' if event.silent else '有声'}），"
        f"按下 {event.press_count} 次；状态 {STATE_ZH[event.state]}"
        + (f"，处置警力 {event.assigned_unit}" if event.assigned_unit else "")
        + (f"；原因 {event.reason}" if event.reason else ""),
    )
    for name, value in (
        ("alarm_id", str(event.alarm_id)),
        ("state", event.state),
        ("assigned_unit", event.assigned_unit),
        ("outcome", event.outcome),
    ):
        if value:
            parameter = ET.SubElement(info, f"{{{NAMESPACE}}}parameter")
            _add(parameter, "valueName", name)
            _add(parameter, "value", value)
    area = ET.SubElement(info, f"{{{NAMESPACE}}}area")
    _add(area, "areaDesc", f"{school.name}（{school.township}）")
    _add(area, "circle", f"{school.lat:.6f},{school.lon:.6f} {sender.area_radius_m / 1000:g}")


def _add(parent: ET.Element, name: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    child.text = text
    return child


@functools.cache
def _schema() -> xmlschema.XMLSchema:
    """Loaded on first use (no I/O at import)."""
    return xmlschema.XMLSchema(str(SCHEMA))


def validate(xml: bytes) -> None:
    """Raise xmlschema.XMLSchemaValidationError naming what breaks the CAP 1.2 schema."""
    _schema().validate(xml.decode("utf-8"))
