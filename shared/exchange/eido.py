"""An alarm as a NENA Emergency Incident Data Object (EIDO, NENA-STA-021.1b JSON): the
incident, its location (the school's point as PIDF-LO and the spot in words), the button as
the alarm/sensor component, the bureau as the owning agency, the assigned unit as an
emergency resource with its dispatch, and the timeline as notes. Validated against NENA's
published OpenAPI document with openapi-schema-validator.

No person, organization, vehicle or item components: personal data stays in the bureau."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from shared.events import AlarmLifecycle
from shared.exchange.cap import KIND_ZH, STATE_ZH, Sender, cap_time
from shared.settings import ROOT

SCHEMA = ROOT / "schemas" / "eido" / "openapi.yaml"
DOCUMENT = "urn:nena:eido:openapi"
ROOT_COMPONENT = "EmergencyIncidentDataObjectType"
MEDIA_TYPE = "application/json"
CONTEXT = "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"
OPEN = "Active"
# the NENA registries' words for how a unit stands on the incident
UNIT_STATUS = {
    "unit_assigned": "Dispatched",
    "en_route": "Enroute",
    "on_scene": "OnScene",
    "resolved": "Cleared",
    "cancelled": "Cleared",
}
PIDF = (
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="http://www.opengis.net/pidflo/1.0" '
    'xmlns:gml="http://www.opengis.net/gml" entity="pres:{entity}"><tuple id="school">'
    '<status><gp:geopriv><gp:location-info><gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
    "<gml:pos>{lat:.6f} {lon:.6f}</gml:pos></gml:Point></gp:location-info></gp:geopriv>"
    "</status></tuple></presence>"
)


def document(
    event: AlarmLifecycle, sender: Sender, *, timeline: Sequence[AlarmLifecycle] = ()
) -> dict[str, Any]:
    """The EIDO of the alarm as of `event`; `timeline` is its events up to it (the notes)."""
    ids = _Ids(str(event.alarm_id), agency=f"urn:safecampus:agency:{sender.sender}")
    prologue = _prologue(event, sender, ids)
    doc: dict[str, Any] = {
        "$id": f"urn:safecampus:eido:{event.event_id}",
        **prologue(None),
        "eidoVersion": "1.0",
        "issuingElementIdentification": "safecampus.alarms",
        "incidentComponent": _incident(event, prologue, ids, timeline),
        "alarmsSensorsComponent": [prologue(ids.sensor) | _button(event, sender)],
        "locationComponent": [prologue(ids.location) | _school(event)],
        "agencyComponent": [
            prologue(ids.agency)
            | {
                "agencyRoleDescriptionRegistryText": ["Owning"],
                "agencyType": ["police"],
                "incidentOwningAgencyIndicator": True,
            }
        ],
        "notesComponent": [
            prologue(f"{ids.notes}:{n}")
            | {
                "lastUpdateTimeStamp": cap_time(step.occurred_at, sender.zone),
                "notesActionComments": _note(step),
            }
            for n, step in enumerate(timeline or [event], start=1)
        ],
        "@context": {"@vocab": CONTEXT},
    }
    if event.assigned_unit:
        doc |= _assignment(event, event.assigned_unit, prologue, ids)
    return doc


def _button(event: AlarmLifecycle, sender: Sender) -> dict[str, Any]:
    """The alarm/sensor component: which button, when, how often, silent or not."""
    return {
        "csaaAlarmInformation": f"panic button {event.device_id} pressed at "
        f"{cap_time(event.pressed_at, sender.zone)}; {event.press_count} press(es), "
        f"{'silent' if event.silent else 'audible'}",
    }


def _school(event: AlarmLifecycle) -> dict[str, Any]:
    """The location: the school's point (PIDF-LO) and the spot inside it in words."""
    school, spot = event.school, event.location
    return {
        "locationTypeDescriptionRegistryText": "Building",
        "locationByValue": PIDF.format(entity=school.school_id, lat=school.lat, lon=school.lon),
        "locationDescriptionText": f"{school.name}（{school.township}）"
        f"{spot.building} {spot.floor} 层 {spot.room}",
    }


def _assignment(event: AlarmLifecycle, unit_id: str, prologue: Any, ids: _Ids) -> dict[str, Any]:
    """The assigned unit as an emergency resource, and its dispatch by the bureau."""
    return {
        "emergencyResourceComponent": [
            prologue(ids.unit(unit_id))
            | {
                "emergencyResourceTypeCommonRegistryText": "Law Enforcement Unit",
                "resourceAttributeRegistryText": ["Other"],
                "resourceAttributeInternalText": ["patrol"],
                "emergencyResourceName": unit_id,
                "primaryUnitStatusRegistryText": UNIT_STATUS.get(event.state, "Dispatched"),
                "secondaryUnitStatusRegistryText": [],
                "agentReference": [],
                "activeOnIncidentId": ids.incident,
            }
        ],
        "dispatchComponent": [
            prologue(ids.dispatch)
            | {
                "agencyReference": {"$ref": ids.agency},
                "emergencyResourceReference": [{"$ref": ids.unit(unit_id)}],
            }
        ],
    }


class _Ids:
    """The `$id` of each component of one alarm's EIDO, the same in every version of it."""

    def __init__(self, alarm: str, *, agency: str) -> None:
        self.agency = agency
        self.incident = f"urn:safecampus:incident:{alarm}"
        self.sensor = f"urn:safecampus:sensor:{alarm}"
        self.location = f"urn:safecampus:location:{alarm}"
        self.notes = f"urn:safecampus:notes:{alarm}"
        self.dispatch = f"urn:safecampus:dispatch:{alarm}"

    def unit(self, unit_id: str) -> str:
        return f"urn:safecampus:unit:{unit_id}"


def _prologue(event: AlarmLifecycle, sender: Sender, ids: _Ids) -> Any:
    """What every component starts with: its `$id`, when and by whom it was last updated."""

    def prologue(component_id: str | None) -> dict[str, Any]:
        fields = {
            "lastUpdateTimeStamp": cap_time(event.occurred_at, sender.zone),
            "updatedByAgencyReference": {"$ref": ids.agency},
        }
        return fields if component_id is None else {"$id": component_id} | fields

    return prologue


def _incident(
    event: AlarmLifecycle, prologue: Any, ids: _Ids, timeline: Sequence[AlarmLifecycle]
) -> dict[str, Any]:
    incident: dict[str, Any] = prologue(ids.incident) | {
        "incidentTypeCommonRegistryText": "Alarm",
        "incidentTypeInternalCode": event.kind,
        "incidentTypeInternalText": f"校园一键报警：{KIND_ZH[event.kind]}",
        "incidentStatusCommonRegistryText": [
            "Closed" if event.state in ("resolved", "cancelled") else OPEN
        ],
        "incidentStatusInternalText": [event.state],
        "internalIncidentId": str(event.alarm_id),
        "locationReference": [{"$ref": ids.location}],
        "incidentPriorityInternalText": f"severity {event.severity}",
        "notesReference": [
            {"$ref": f"{ids.notes}:{n}"} for n in range(1, len(timeline or [event]) + 1)
        ],
    }
    if event.test:
        incident["incidentTypeInternalText"] += "（测试/演练）"
    if event.outcome:
        incident["dispositionComponent"] = [
            prologue(f"{ids.incident}:disposition")
            | {"dispositionCommonRegistryCode": event.outcome, "dispositionPrimaryIndicator": True}
        ]
    return incident


def _note(step: AlarmLifecycle) -> str:
    parts = [STATE_ZH[step.state], f"({step.actor})"]
    if step.assigned_unit:
        parts.append(step.assigned_unit)
    if step.reason:
        parts.append(step.reason)
    return "<p>" + " ".join(_escape(p) for p in parts) + "</p>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@functools.cache
def _validator() -> OAS30Validator:
    """Loaded on first use (no I/O at import). The published file's one defect, `minItems:
    1,` on AgentType.agentRoleRegistryText, is read as 1 (schemas/README.md)."""
    spec = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    agent = spec["components"]["schemas"]["AgentType"]["allOf"][1]["properties"]
    if agent["agentRoleRegistryText"].get("minItems") == "1,":
        agent["agentRoleRegistryText"]["minItems"] = 1
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT, Resource.from_contents(spec, default_specification=DRAFT4)
    )
    root = {"$ref": f"{DOCUMENT}#/components/schemas/{ROOT_COMPONENT}"}
    return OAS30Validator(root, registry=registry)


def validate(doc: dict[str, Any]) -> None:
    """Raise jsonschema's ValidationError naming what breaks the EIDO schema."""
    error = next(iter(_validator().iter_errors(doc)), None)
    if error is not None:
        raise error


__all__ = ["MEDIA_TYPE", "ValidationError", "document", "validate"]
