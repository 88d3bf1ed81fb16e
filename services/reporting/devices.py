"""Panic-button availability from the troubles supervision announced (`devices.troubles`):
pure functions over the troubles' spans and the provisioned county."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.reporting.models import DeviceAvailabilityRow, DevicesReport
from shared.events import DeviceTrouble
from shared.provisioning import County, School

DEFAULT_SPAN = timedelta(days=7)


@dataclass(frozen=True)
class TroubleSpan:
    """One trouble from its raise to its restoral (`restored_at` None while it lasts), as
    availability reads it: kept per `trouble_id` from the trouble events, so a period's
    troubles are read by overlap, not from every event before its end."""

    trouble_id: str
    device_id: str
    school_id: str
    kind: str
    since: datetime
    raised_at: datetime
    restored_at: datetime | None = None

    def overlaps(self, since: datetime | None, until: datetime | None) -> bool:
        """Raised before `until` and not restored before `since`: what a period counts."""
        raised = until is None or self.raised_at < until
        return raised and (since is None or self.restored_at is None or self.restored_at >= since)


def spans_of(troubles: Iterable[DeviceTrouble]) -> list[TroubleSpan]:
    """Each trouble's span from its events (a repeated or redelivered event changes nothing;
    a restoral without its raise is not a span yet), by raise time."""
    raised: dict[str, DeviceTrouble] = {}
    earliest: dict[str, dict[str, datetime]] = defaultdict(dict)  # as the stored span's $min
    for event in troubles:
        key = str(event.trouble_id)
        if event.status not in ("raised", "restored"):
            continue
        moments = {f"{event.status}_at": event.occurred_at}
        if event.status == "raised":
            raised.setdefault(key, event)
            moments["since"] = event.since
        held = earliest[key]
        for name, at in moments.items():
            held[name] = min(held.get(name, at), at)
    spans = [
        TroubleSpan(
            key,
            event.device_id,
            event.school.school_id,
            event.kind,
            earliest[key]["since"],
            earliest[key]["raised_at"],
            earliest[key].get("restored_at"),
        )
        for key, event in raised.items()
    ]
    return sorted(spans, key=lambda span: span.raised_at)


KINDS = ("offline", "battery_low", "tamper")


@dataclass
class Tally:
    """Buttons, troubles raised per kind, offline seconds, buttons in trouble at the end: of
    one button, a school or a township (adding up)."""

    devices: int = 0
    raised: Counter[str] = field(default_factory=Counter)
    offline_s: float = 0.0
    open_at_end: int = 0

    def add(self, other: Tally) -> None:
        self.devices += other.devices
        for kind, n in other.raised.items():
            self.raised[kind] += n
        self.offline_s += other.offline_s
        self.open_at_end += other.open_at_end


def devices_report(
    troubles: Sequence[TroubleSpan],
    county: County,
    schools: Iterable[School],
    *,
    since: datetime,
    until: datetime,
) -> DevicesReport:
    """Troubles raised in [since, until) and offline time clipped to it, per school in scope
    and per township; `troubles` are those overlapping the period (a trouble raised before
    it may last into it)."""
    devices_of: dict[str, list[str]] = defaultdict(list)
    for device in county.devices:
        devices_of[device.school_id].append(device.device_id)
    troubles_of: dict[str, list[TroubleSpan]] = defaultdict(list)
    for trouble in troubles:
        troubles_of[trouble.device_id].append(trouble)
    zone = troubles[0].raised_at.tzinfo if troubles else since.tzinfo
    start, end = since.astimezone(zone), until.astimezone(zone)  # one zone: no offsets to compare
    buttons = {d: _tally(mine, start, end) for d, mine in troubles_of.items()}
    period_s = max(0.0, (until - since).total_seconds())  # a period yet to come: nothing
    rows: list[DeviceAvailabilityRow] = []
    townships: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    for school in sorted(schools, key=lambda s: s.school_id):
        tally = Tally(devices=len(devices_of[school.school_id]))
        for device_id in devices_of[school.school_id]:
            if device_id in buttons:
                tally.add(buttons[device_id])
        rows.append(_row(school, tally, period_s))
        townships[school.township].add(tally)
        total.raised.update(tally.raised)
    return DevicesReport(
        since=since,
        until=until,
        schools=rows,
        townships=[
            _township_row(name, whole, period_s) for name, whole in sorted(townships.items())
        ],
        troubles_by_kind={kind: total.raised[kind] for kind in KINDS},
    )


def _tally(troubles: list[TroubleSpan], since: datetime, until: datetime) -> Tally:
    """One button's, from its troubles' spans."""
    raised: Counter[str] = Counter()
    offline_s, open_at_end = 0.0, 0
    for t in troubles:
        if since <= t.raised_at < until:
            raised[t.kind] += 1
        end = t.restored_at if t.restored_at is not None and t.restored_at < until else None
        if end is None:
            open_at_end = 1
        if t.kind == "offline":
            start, stop = max(t.since, since), end or until
            if stop > start:
                offline_s += (stop - start).total_seconds()
    return Tally(0, raised, offline_s, open_at_end)  # counted as a school's button


def _row(school: School, tally: Tally, period_s: float) -> DeviceAvailabilityRow:
    return DeviceAvailabilityRow(
        school_id=school.school_id,
        name=school.name,
        township=school.township,
        **_figures(tally, period_s),
    )


def _township_row(name: str, whole: Tally, period_s: float) -> DeviceAvailabilityRow:
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
