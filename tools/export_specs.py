"""Writes the published contracts: docs/api/openapi-<service>.json (HTTP) and
docs/api/asyncapi.json (Kafka: every topic, its key, its event schema, producers and consumers).

    safecampus specs          write them
    safecampus specs --check  exit 1 if the committed files are out of date

The AsyncAPI document is built from shared/events/ (pydantic schemas with their field
descriptions) and the table below, so it cannot drift from the code without a test noticing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from services.notifications.models import FeedEntry, Order
from services.patrols.settings import PatrolsSettings
from shared.events import (
    ActivityRecorded,
    AlarmCommand,
    AlarmLifecycle,
    AlarmPressed,
    CampaignOpened,
    CheckinRecorded,
    CommandResolved,
    CommunityCheckRecorded,
    DeadLetter,
    DeliveryChanged,
    DeviceTrouble,
    GateVisitChanged,
    GuardPostWindow,
    HazardChanged,
    PointVisited,
    PositionReported,
    SchoolPlanChanged,
    SchoolWindowPatrolled,
    UnitStatusChanged,
    VideoCheckRecorded,
    ViolationRecorded,
)
from shared.settings import ROOT, DeviceSettings
from shared.topics import Topics

OUT = ROOT / "docs" / "api"
SERVICES = ("alarms", "patrols", "notifications", "reporting")

# topic attribute → (key, event, produced by, consumed by)
CHANNELS: dict[str, tuple[str, type[BaseModel], list[str], list[str]]] = {
    "alarms_pressed": ("school_id", AlarmPressed, ["alarms (ingress)"], ["alarms"]),
    "alarms_commands": (
        "alarm_id",
        AlarmCommand,
        [
            "alarms (dispatcher/unit API)",
            "notifications (the console's commands; dispatch, assign on a unit's acceptance, "
            "escalate no_unit_in_range)",
        ],
        ["alarms"],
    ),
    "alarms_command_results": ("alarm_id", CommandResolved, ["alarms"], ["notifications"]),
    "alarms_lifecycle": (
        "alarm_id",
        AlarmLifecycle,
        ["alarms"],
        ["notifications", "reporting"],
    ),
    "devices_troubles": (
        "device_id",
        DeviceTrouble,
        ["alarms (button supervision)"],
        ["notifications (the dispatcher feed)", "reporting"],
    ),
    "patrols_positions": ("unit_id", PositionReported, ["patrols"], ["patrols", "notifications"]),
    "patrols_unit_status": ("unit_id", UnitStatusChanged, ["patrols"], ["notifications"]),
    "patrols_violations": ("unit_id", ViolationRecorded, ["patrols"], ["patrols", "reporting"]),
    "patrols_checkins": ("unit_id", CheckinRecorded, ["patrols"], ["patrols", "reporting"]),
    "patrols_visits": ("unit_id", PointVisited, ["patrols"], ["reporting"]),
    "patrols_campaigns": ("campaign_id", CampaignOpened, ["patrols"], ["reporting"]),
    "patrols_school_plans": ("school_id", SchoolPlanChanged, ["patrols"], ["notifications"]),
    "patrols_hazards": ("hazard_id", HazardChanged, ["patrols"], ["reporting"]),
    "patrols_video_checks": ("school_id", VideoCheckRecorded, ["patrols"], ["reporting"]),
    "patrols_visibility": ("school_id", SchoolWindowPatrolled, ["patrols"], ["reporting"]),
    "patrols_gate_visits": ("school_id", GateVisitChanged, ["patrols"], ["reporting"]),
    "patrols_community_checks": (
        "school_id",
        CommunityCheckRecorded,
        ["patrols"],
        ["reporting"],
    ),
    "patrols_guard_posts": (
        "post_id",
        GuardPostWindow,
        ["patrols"],
        ["reporting", "notifications (gaps into the dispatcher feed)"],
    ),
    "activities_recorded": (
        "school_id",
        ActivityRecorded,
        ["reporting (supervisor API)"],
        ["reporting"],
    ),
    "notifications_deliveries": (
        "alarm_id",
        DeliveryChanged,
        ["notifications"],
        ["(reporting: to come)"],
    ),
    # logs read in full by every notifications instance (no consumer group); the SSE id of a
    # stream is a record's offset + 1
    "notifications_feed": (
        "alarm_id (post_id for a guard-post gap)",
        FeedEntry,
        ["notifications (the owner of the alarm event)"],
        ["notifications (every instance; a PostGap when entry_type is guard_post_gap)"],
    ),
    "notifications_orders": (
        "unit_id",
        Order,
        ["notifications (the owner of the alarm event)"],
        ["notifications (every instance)"],
    ),
}


class SpecSettings(DeviceSettings, PatrolsSettings):
    """Enough settings to build every service's app (nothing connects)."""


def openapi(service: str) -> dict[str, Any]:
    """The service's OpenAPI document; building the app connects to nothing."""
    module = __import__(f"services.{service}.main", fromlist=["create_app"])
    settings = SpecSettings(jwt_secret="x" * 32, device_key_seed="spec", pii_key="p" * 32)
    document: dict[str, Any] = module.create_app(settings).openapi()
    return document


def asyncapi() -> dict[str, Any]:
    topics = Topics()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    schemas: dict[str, Any] = {"DeadLetter": DeadLetter.model_json_schema()}
    for attribute, (key, event, producers, consumers) in CHANNELS.items():
        name = getattr(topics, attribute)
        schemas[event.__name__] = event.model_json_schema()
        message = {
            "name": event.__name__,
            "title": event.__name__,
            "summary": (event.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{event.__name__}"},
            "headers": {"type": "object", "properties": {"trace-id": {"type": "string"}}},
            "bindings": {"kafka": {"key": {"type": "string", "description": key}}},
        }
        channels[attribute] = {
            "address": name,
            "description": f"Key: {key}. Produced by {', '.join(producers)}; "
            f"consumed by {', '.join(consumers)}. Unprocessable messages go to {name}.dlq.",
            "messages": {event.__name__: message},
        }
        channels[f"{attribute}_dlq"] = {
            "address": Topics.dlq(name),
            "description": f"Messages of {name} that can never be processed, with the reason.",
            "messages": {"DeadLetter": {"payload": {"$ref": "#/components/schemas/DeadLetter"}}},
        }
        ref = {"$ref": f"#/channels/{attribute}"}
        operations[f"send_{attribute}"] = {"action": "send", "channel": ref}
        operations[f"receive_{attribute}"] = {"action": "receive", "channel": ref}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "SafeCampus events",
            "version": "1.0.0",
            "description": "Every event carries event_id, occurred_at and schema_version; "
            "events change only by adding fields. Topics may carry a deployment prefix "
            "(TOPIC_PREFIX).",
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas},
    }


def documents() -> dict[Path, str]:
    files = {OUT / f"openapi-{s}.json": openapi(s) for s in SERVICES}
    files[OUT / "asyncapi.json"] = asyncapi()
    return {
        path: json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        for path, doc in files.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="safecampus specs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = parser.parse_args(argv)
    stale = []
    for path, text in documents().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("out of date (run safecampus specs):", *map(str, stale), sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
