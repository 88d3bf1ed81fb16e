"""The fault suite's checker (tools/chaos.py): every press answered 202 against what the system
holds, Jepsen-style. Pure: it is given what was sent and what was read back.

A press is **lost** when the store holds no alarm for it, when it raised an alarm whose `raised`
entry never reached the dispatcher's stream, or when a folded press's `folded` entry never did.
It is **duplicated** when two alarms hold it, when an alarm holds it twice, or when the stream
showed its entry more than once. An alarm that no answered press accounts for is **unexpected**
(a press answered with an error that was applied all the same; not a failure). The reports
must count every alarm held, once.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SentPress:
    """A press the client had answered 202, and the fault under way when it was first sent."""

    press_id: str
    alarm_id: str  # as answered: the alarm's id, or the id that leads to the alarm it joined
    fault: str


@dataclass(frozen=True)
class Held:
    """What the system holds at the end: alarm documents (`_id`, `press_alarm_ids`,
    `raised_at`), the dispatcher stream's entries as received (one per event received, in
    order), the alarms the reports count, and when each fault began (an unexpected alarm is
    counted against the fault under way when it was raised)."""

    alarms: list[dict[str, Any]]
    stream: list[dict[str, Any]]
    reported_alarms: int
    faults: list[tuple[datetime, str]] = field(default_factory=list)


@dataclass
class Row:
    fault: str
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0


@dataclass
class Verdict:
    rows: list[Row]
    unexpected: int
    reported: int
    held: int
    problems: list[str] = field(default_factory=list)
    refused: int = 0  # presses answered with a 4xx that retrying cannot mend

    @property
    def ok(self) -> bool:
        lost = sum(r.lost for r in self.rows)
        duplicated = sum(r.duplicated for r in self.rows)
        return lost == duplicated == self.refused == 0 and self.reported == self.held

    def table(self) -> str:
        """The verdict as a Markdown table, one row per fault, and the totals."""
        total = Row(
            "**all**",
            sum(r.acknowledged for r in self.rows),
            sum(r.lost for r in self.rows),
            sum(r.duplicated for r in self.rows),
            sum(r.unexpected for r in self.rows),
        )
        lines = [
            "| fault | acknowledged | lost | duplicated | unexpected |",
            "|---|---:|---:|---:|---:|",
            *(
                f"| {r.fault} | {r.acknowledged} | {r.lost} | {r.duplicated} | {r.unexpected} |"
                for r in [*self.rows, total]
            ),
            "",
            f"reports count {self.reported} alarms of {self.held} held; presses refused for "
            f"good: {self.refused}",
        ]
        return "\n".join(lines)


def check(sent: list[SentPress], held: Held, refused: list[str] | None = None) -> Verdict:
    """Every acknowledged press against the store, the stream and the reports. `refused`:
    presses the system turned away for good (a 4xx), each a failure of the run."""
    holders = _holders(held.alarms)
    raised = Counter(
        e["alarm_id"]
        for e in held.stream
        if e.get("state") == "raised" and e.get("change") == "transition"
    )
    folds = Counter(
        word
        for e in held.stream
        if e.get("change") == "folded"
        for word in str(e.get("reason") or "").split()
    )
    rows: dict[str, Row] = {}
    problems: list[str] = []
    accounted: set[str] = set()
    for press in sent:
        row = rows.setdefault(press.fault, Row(press.fault))
        row.acknowledged += 1
        found = holders.get(press.alarm_id, [])
        accounted.update(found)
        if not found:
            row.lost += 1
            problems.append(f"lost: press {press.press_id} ({press.fault}) is in no alarm")
            continue
        if len(found) > 1:
            row.duplicated += 1
            problems.append(f"duplicated: press {press.press_id} is held {len(found)} times")
            continue
        (alarm,) = found
        seen = raised[alarm] if alarm == press.alarm_id else folds[press.press_id]
        where = "raised" if alarm == press.alarm_id else "folded"
        if seen == 0:
            row.lost += 1
            problems.append(f"lost: the dispatcher never saw press {press.press_id} {where}")
        elif seen > 1:
            row.duplicated += 1
            problems.append(
                f"duplicated: the dispatcher saw press {press.press_id} {where} {seen} times"
            )
    alarm_ids = {str(a["_id"]) for a in held.alarms}
    unexpected = [a for a in held.alarms if str(a["_id"]) not in accounted]
    for stray in unexpected:
        fault = _fault_at(held.faults, stray.get("raised_at"))
        rows.setdefault(fault, Row(fault)).unexpected += 1
        problems.append(f"unexpected: alarm {stray['_id']} ({fault}) answers no press")
    if held.reported_alarms != len(alarm_ids):
        problems.append(
            f"reports count {held.reported_alarms} alarms, the store holds {len(alarm_ids)}"
        )
    refused = refused or []
    problems.extend(f"refused: {answer}" for answer in refused)
    return Verdict(
        list(rows.values()),
        len(unexpected),
        held.reported_alarms,
        len(alarm_ids),
        problems,
        len(refused),
    )


def _fault_at(faults: list[tuple[datetime, str]], when: datetime | None) -> str:
    """The fault under way at `when` (faults: when each began, in order)."""
    if when is None or not faults:
        return "unknown"
    index = bisect_right([start for start, _ in faults], when) - 1
    return faults[max(index, 0)][1]


def _holders(alarms: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Answered alarm id → the stored alarms holding it (more than one, or one holding it
    twice, is a duplicate)."""
    holders: dict[str, list[str]] = defaultdict(list)
    for alarm in alarms:
        own = str(alarm["_id"])
        holders[own].append(own)
        for alias in alarm.get("press_alarm_ids") or []:
            holders[str(alias)].append(own)
    return holders
