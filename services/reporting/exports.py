"""A report's rows as CSV in people's words: headers and keyed values from the label catalogue
(shared/labels.py) in the chosen language, times in the county's time zone."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from services.reporting.models import (
    AlarmOutcomeRow,
    GuardPostRow,
    HazardRow,
    InspectionItemRow,
    IntervalFigures,
    OutreachRow,
    VideoCheckRow,
    ViolationRow,
)
from shared import labels
from shared.labels import DEFAULT_LANG, Lang

Translate = Callable[[str, Lang], str]


def _vocabulary(name: str) -> Translate:
    return lambda key, lang: labels.label(name, key, lang)


# The columns whose values are keys, and how each reads.
KEYED: dict[type[BaseModel], dict[str, Translate]] = {
    IntervalFigures: {"interval": _vocabulary("response_interval")},
    AlarmOutcomeRow: {"kind": _vocabulary("alarm_kind"), "outcome": labels.outcome},
    GuardPostRow: {"window": _vocabulary("guard_window")},
    ViolationRow: {"kind": _vocabulary("violation_kind"), "campaign": _vocabulary("campaign")},
    InspectionItemRow: {"item": _vocabulary("inspection_item"), "defence": _vocabulary("defence")},
    OutreachRow: {"topic": _vocabulary("outreach_topic")},
    HazardRow: {"department": _vocabulary("department")},
    VideoCheckRow: {"traffic": _vocabulary("traffic")},
}


def shown(row: BaseModel, field: str, lang: Lang = DEFAULT_LANG) -> object:
    """A row's field as people read it: a keyed value in words (KEYED), else as it is."""
    value = getattr(row, field)
    translate = KEYED.get(type(row), {}).get(field)
    return translate(value, lang) if translate is not None and isinstance(value, str) else value


def to_csv(
    model: type[BaseModel],
    rows: Sequence[BaseModel],
    *,
    lang: Lang = DEFAULT_LANG,
    zone: ZoneInfo | None = None,
) -> str:
    """Rows of one model as CSV, a header of its fields' labels; lists joined with ';'."""
    columns = list(model.model_fields)
    keyed = KEYED.get(model, {})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(labels.label("column", column, lang) for column in columns)
    for row in rows:
        values = row.model_dump()
        writer.writerow(_cell(values[column], keyed.get(column), lang, zone) for column in columns)
    return out.getvalue()


def _cell(value: object, translate: Translate | None, lang: Lang, zone: ZoneInfo | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return labels.label("yes_no", str(value).lower(), lang)
    if isinstance(value, datetime):
        return (value.astimezone(zone) if zone else value).isoformat()
    if isinstance(value, list):
        return ";".join(_cell(v, translate, lang, zone) for v in value)
    if isinstance(value, str) and translate is not None:
        return translate(value, lang)
    return str(value)
