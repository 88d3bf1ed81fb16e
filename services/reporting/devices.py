"""Panic-button availability from the troubles supervision announced (`devices.troubles`):
pure functions over the stored trouble events and the provisioned county."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.reporting.models import DeviceAvailabilityRow, DevicesReport
from shared.events import DeviceTrouble
from shared.provisioning import County, School

DEFAULT_SPAN = timedelta(days=7)


@dataclass(frozen=True)
class TroubleFact:
    """What availability needs of a trouble event (the repository reads only these fields)."""

    trouble_id: str
    device_id: str
    kind: str
    status: str
    occurred_at: datetime
    since: datetime

    @classmethod
    def of(cls, event: DeviceTrouble) -> TroubleFact:
        return cls(
            str(event.trouble_id),
            event.device_id,
            event.kind,
            event.status,
            event.occurred_at,
            event.since,
        )


KINDS = ("offline", "battery_low", "tamper")


@dataclass(frozen=True)
class Tally:
    devices: int
    raised: Counter[str]
    offline_s: float
    open_at_end: int


def devices_report(
    troubles: Sequence[TroubleFact],
    county: County,
    schools: Iterable[School],
    *,
    since: datetime,
    until: datetime,
) -> DevicesReport:
    """Troubles raised in [since, until) and offline time clipped to it, per school in scope
    and per township; `troubles` are every trouble event before `until` (a trouble raised
    before the period may last into it)."""
    devices_of: dict[str, set[str]] = defaultdict(set)
    for device in county.devices:
        devices_of[device.school_id].add(device.device_id)
    troubles_of: dict[str, list[TroubleFact]] = defaultdict(list)
    for trouble in troubles:
        troubles_of[trouble.device_id].append(trouble)
    tallies = {
        s.school_id: _tally(devices_of[s.school_id], troubles_of, since, until) for s in schools
    }
    by_school = {s.school_id: s for s in county.schools}
    period_s = max(0.0, (until - since).total_seconds())  # a period yet to come: nothing
    rows = [_row(by_school[sid], tally, period_s) for sid, tally in sorted(tallies.items())]
    townships: dict[str, list[Tally]] = defaultdict(list)
    for school_id, tally in tallies.items():
        townships[by_school[school_id].township].append(tally)
    township_rows = [
        _township_row(name, parts, period_s) for name, parts in sorted(townships.items())
    ]
    total = sum((t.raised for t in tallies.values()), Counter[str]())
    return DevicesReport(
        since=since,
        until=until,
        schools=rows,
        townships=township_rows,
        troubles_by_kind={kind: total[kind] for kind in KINDS},
    )


def _tally(
    devices: set[str],
    troubles_of: Mapping[str, list[TroubleFact]],
    since: datetime,
    until: datetime,
) -> Tally:
    """One school's buttons, given each button's troubles."""
    mine = [t for device_id in sorted(devices) for t in troubles_of.get(device_id, ())]
    raised: Counter[str] = Counter(
        str(t.kind) for t in mine if t.status == "raised" and since <= t.occurred_at < until
    )
    ended = {t.trouble_id: t.occurred_at for t in mine if t.status == "restored"}
    offline_s = 0.0
    open_at_end: set[str] = set()
    for t in mine:
        if t.status != "raised":
            continue
        end = ended.get(t.trouble_id)
        if end is None or end >= until:
            open_at_end.add(t.device_id)
        if t.kind == "offline":
            start, stop = max(t.since, since), min(end or until, until)
            offline_s += max(0.0, (stop - start).total_seconds())
    return Tally(len(devices), raised, offline_s, len(open_at_end))


def _row(school: School, tally: Tally, period_s: float) -> DeviceAvailabilityRow:
    return DeviceAvailabilityRow(
        school_id=school.school_id,
        name=school.name,
        township=school.township,
        **_figures(tally, period_s),
    )


def _township_row(name: str, parts: list[Tally], period_s: float) -> DeviceAvailabilityRow:
    whole = Tally(
        sum(p.devices for p in parts),
        sum((p.raised for p in parts), Counter[str]()),
        sum(p.offline_s for p in parts),
        sum(p.open_at_end for p in parts),
    )
    return DeviceAvailabilityRow(name=name, township=name, **_figures(whole, period_s))


def _figures(tally: Tally, period_s: float) -> dict[str, object]:
    possible = tally.devices * period_s
    return {
        "devices": tally.devices,
        **{kind: tally.raised[kind] for kind in KINDS},
        "offline_hours": round(tally.offline_s / 3600, 2),
        "availability": round(1 - tally.offline_s / possible, 4) if possible else None,
        "in_trouble_at_end": tally.open_at_end,
    }
