"""The label catalogue (shared/labels.py) against every enum people see and every report column."""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel

import shared.events as events
from services.alarms.lifecycle import EscalationReason
from services.alarms.models import CommandStatus
from services.reporting import models as report_models
from services.reporting.api import REPORTS
from services.reporting.tallies import INTERVALS
from shared import labels
from shared.auth import Role
from shared.commands import CancelOutcome, ResolveOutcome
from shared.events.hazards import Department, HazardChange, HazardKind, HazardSource, HazardState
from shared.provisioning import PointKind, UnitKind

CJK = re.compile(r"[\u4e00-\u9fff]")


def _field(model: type[BaseModel], name: str) -> Any:
    annotation = model.model_fields[name].annotation
    return get_args(annotation)[0] if get_origin(annotation) is typing.Union else annotation


# Each vocabulary and the enum it labels.
SOURCES: dict[str, tuple[str, ...]] = {
    "alarm_kind": get_args(events.AlarmKind),
    "alarm_state": get_args(events.AlarmState),
    "resolve_outcome": get_args(ResolveOutcome),
    "cancel_outcome": get_args(CancelOutcome),
    "escalation_reason": get_args(EscalationReason),
    "command_action": get_args(events.CommandAction),
    "command_status": get_args(CommandStatus),
    "response_interval": tuple(f"press_to_{state}" for state in INTERVALS),
    "unit_status": get_args(events.UnitStatus),
    "unit_kind": get_args(UnitKind),
    "point_kind": get_args(PointKind),
    "guard_window": get_args(_field(events.GuardPostWindow, "window")),
    "guard_state": get_args(_field(events.GuardPostWindow, "state")),
    "visit_end": get_args(_field(events.PointVisited, "closed_by")),
    "violation_kind": get_args(events.ViolationKind),
    "activity_kind": get_args(events.ActivityKind),
    "inspection_item": get_args(events.InspectionItem),
    "defence": tuple(events.THREE_DEFENCES),
    "outreach_topic": get_args(events.OutreachTopic),
    "drill_scenario": get_args(_field(events.Drill, "scenario")),
    "trouble_kind": get_args(events.TroubleKind),
    "trouble_status": get_args(events.TroubleStatus),
    "power_source": get_args(events.PowerSource),
    "delivery_state": get_args(events.DeliveryState),
    "delivery_channel": get_args(events.DeliveryChannel),
    "role": get_args(Role),
    "hazard_kind": get_args(HazardKind),
    "hazard_source": get_args(HazardSource),
    "hazard_state": get_args(HazardState),
    "hazard_change": get_args(HazardChange),
    "department": get_args(Department),
    "traffic": get_args(events.Traffic),
    "premises_kind": get_args(events.PremisesKind),
    "check_item": get_args(events.CheckItem),
    "person_role": get_args(events.PersonRole),
    "visit_purpose": get_args(events.VisitPurpose),
    "patrol_mode": get_args(events.PatrolMode),
    "visit_change": get_args(events.VisitChange),
}
# Literals of the events that are plumbing, not words anyone reads.
NOT_SHOWN = {
    frozenset({"transition", "folded"}),  # how a lifecycle event came about
}


@pytest.mark.parametrize("vocabulary", sorted(SOURCES))
def test_each_vocabulary_labels_its_enum_exactly_in_both_languages(vocabulary: str) -> None:
    assert set(labels.CATALOGUE[vocabulary]) == set(SOURCES[vocabulary])
    for key, (zh, en) in labels.CATALOGUE[vocabulary].items():
        assert CJK.search(zh), (vocabulary, key, zh)
        assert en and not CJK.search(en), (vocabulary, key, en)


def test_every_vocabulary_has_a_source_or_is_a_report_s_own() -> None:
    assert set(labels.CATALOGUE) - set(SOURCES) == {
        "alarm_end",
        "campaign",
        "column",
        "page",
        "yes_no",
    }


def _literals(annotation: Any) -> list[frozenset[str]]:
    """Every Literal inside an annotation (Optional, lists, dicts, unions)."""
    if get_origin(annotation) is Literal:
        return [frozenset(get_args(annotation))]
    found: list[frozenset[str]] = []
    for arg in get_args(annotation):
        found += _literals(arg)
    if isinstance(annotation, types.UnionType):
        for arg in annotation.__args__:
            found += _literals(arg)
    return found


def test_every_enum_of_the_events_has_its_labels() -> None:
    models = [m for m in vars(events).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    assert len(models) > 15
    covered = [frozenset(keys) for keys in SOURCES.values()]
    seen = 0
    for model in models:
        for name, field in model.model_fields.items():
            for values in _literals(field.annotation):
                if len(values) == 1 or values in NOT_SHOWN:  # a discriminator's tag
                    continue
                seen += 1
                assert any(values <= keys for keys in covered), (model.__name__, name, values)
    assert seen > 15


def test_every_column_of_every_report_s_csv_has_its_labels() -> None:
    row_models = {
        report_models.SchoolAlarmCount,
        report_models.IntervalFigures,
        report_models.AlarmOutcomeRow,
        report_models.GuardPostRow,
        report_models.CoverageRow,
        report_models.ViolationRow,
        report_models.InspectionItemRow,
        report_models.OutreachRow,
        report_models.PeriodSummary,
        report_models.DeviceAvailabilityRow,
        report_models.WeekFigures,
        report_models.HazardRow,
        report_models.VideoCheckRow,
        report_models.CommunityCheckRow,
        report_models.GateVisitRow,
        report_models.VisibilityRow,
    }
    from_reports = {report.rows.model for report in REPORTS.values()}
    assert from_reports <= row_models
    for model in row_models:
        for name in model.model_fields:
            assert name in labels.CATALOGUE["column"], (model.__name__, name)


def test_each_page_text_takes_the_same_values_in_both_languages() -> None:
    import string

    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    for key, (zh, en) in labels.CATALOGUE["page"].items():
        assert fields(zh) == fields(en), key


def test_the_report_s_own_words_are_labelled() -> None:
    from services.reporting.tallies import NO_CAMPAIGN

    assert set(labels.CATALOGUE["campaign"]) == {NO_CAMPAIGN[1]}


def test_a_key_the_catalogue_does_not_know_is_shown_as_itself() -> None:
    assert labels.label("alarm_kind", "fire") == "火情"
    assert labels.label("alarm_kind", "fire", "en") == "Fire"
    assert labels.label("alarm_kind", "flood") == "flood"


def test_an_outcome_reads_as_its_state_and_reason() -> None:
    assert labels.outcome("resolved:arrest") == "已处置：抓获嫌疑人"
    assert labels.outcome("cancelled:false_alarm", "en") == "Cancelled: False alarm"
    assert labels.outcome("open") == "未结"


def test_the_catalogue_in_one_language_has_every_vocabulary() -> None:
    english = labels.catalogue("en")
    assert english["alarm_state"]["unit_assigned"] == "Unit assigned"
    assert set(english) == set(labels.catalogue("zh")) == set(labels.CATALOGUE)
