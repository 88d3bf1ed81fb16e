"""Panic-button availability for a known week, worked out by hand: a trouble from before the
period counts from its start, one still open counts to its end, duplicates change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.reporting import pages, service
from services.reporting.service import Deps, Scope
from shared.events import DeviceTrouble, stable_id
from shared.labels import Words
from shared.provisioning import County, Device, School
from shared.topics import Topics
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.reporting import InMemoryReportingRepository

SINCE = datetime(2026, 9, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)  # 168 hours
SCHOOLS = [
    School(school_id="S1", name="一小", township="T1", lat=35.70, lon=105.00),
    School(school_id="S2", name="二中", township="T1", lat=35.71, lon=105.01),
    School(school_id="S3", name="三幼", township="T2", lat=35.72, lon=105.02),
]
DEVICES = [
    Device(device_id="D1a", school_id="S1"),
    Device(device_id="D1b", school_id="S1"),
    Device(device_id="D2", school_id="S2"),
]
COUNTY = County(name="t", schools=SCHOOLS, devices=DEVICES, units=[], patrol_points=[])
REF = {s.school_id: s.ref() for s in SCHOOLS}


def told(device: str, kind: str, status: str, at: datetime, since: datetime) -> DeviceTrouble:
    school = next(d.school_id for d in DEVICES if d.device_id == device)
    trouble = stable_id(device, kind, since.isoformat())
    return DeviceTrouble.model_validate(
        {
            "event_id": stable_id(str(trouble), status, at.isoformat()),
            "occurred_at": at,
            "trouble_id": trouble,
            "device_id": device,
            "school": REF[school],
            "kind": kind,
            "status": status,
            "since": since,
        }
    )


def day(n: int, hour: int = 0) -> datetime:
    return SINCE + timedelta(days=n - 1, hours=hour)


AUG_31_NOON = SINCE - timedelta(hours=12)
WEEK = [
    # D1a offline from before the period until noon on the 1st: 12 h inside it
    told("D1a", "offline", "raised", AUG_31_NOON, AUG_31_NOON),
    told("D1a", "offline", "restored", day(1, 12), AUG_31_NOON),
    # D1b's battery low on the 2nd, repeated, restored on the 3rd
    told("D1b", "battery_low", "raised", day(2), day(2)),
    told("D1b", "battery_low", "repeated", day(2, 4), day(2)),
    told("D1b", "battery_low", "restored", day(3), day(2)),
    # D2 offline from the 5th to the end (72 h), and a tamper on the 6th
    told("D2", "offline", "raised", day(5), day(5)),
    told("D2", "tamper", "raised", day(6), day(6)),
    told("D2", "tamper", "restored", day(6, 1), day(6)),
    # after the period: not in it
    told("D2", "tamper", "raised", day(9), day(9)),
]


async def recorded(events: list[DeviceTrouble]) -> Deps:
    """Reporting's dependencies with the troubles recorded as their events arrive."""
    deps = Deps(
        publisher=RecordingPublisher(),
        topics=Topics(),
        repo=InMemoryReportingRepository(),  # type: ignore[arg-type]
        county=COUNTY,
    )
    for event in events:
        await service.record_trouble(deps=deps, event=event)
    return deps


async def report(events: list[DeviceTrouble], scope: Scope) -> object:
    return await service.devices(deps=await recorded(events), scope=scope)


async def test_availability_per_school_and_township_over_a_week() -> None:
    found = await report(WEEK, Scope(since=SINCE, until=UNTIL))
    rows = {r.school_id: r for r in found.schools}  # type: ignore[attr-defined]
    figures = {
        sid: (
            r.devices,
            r.offline,
            r.battery_low,
            r.tamper,
            r.offline_hours,
            r.availability,
            r.in_trouble_at_end,
        )
        for sid, r in rows.items()
    }
    assert figures == {
        "S1": (2, 0, 1, 0, 12.0, 0.9643, 0),  # 1 - 12 / (2 * 168)
        "S2": (1, 1, 0, 1, 72.0, 0.5714, 1),  # 1 - 72 / 168
        "S3": (0, 0, 0, 0, 0.0, None, 0),  # no buttons: nothing to be available
    }
    townships = {r.name: (r.devices, r.offline_hours, r.availability) for r in found.townships}  # type: ignore[attr-defined]
    assert townships == {"T1": (3, 84.0, 0.8333), "T2": (0, 0.0, None)}
    assert found.troubles_by_kind == {"offline": 1, "battery_low": 1, "tamper": 1}  # type: ignore[attr-defined]


async def test_duplicates_and_order_change_nothing_and_a_township_keeps_its_schools() -> None:
    twice = await report([*reversed(WEEK), *WEEK], Scope(since=SINCE, until=UNTIL))
    once = await report(WEEK, Scope(since=SINCE, until=UNTIL))
    assert twice == once
    t2 = await report(WEEK, Scope(since=SINCE, until=UNTIL, township="T2"))
    assert [r.school_id for r in t2.schools] == ["S3"]  # type: ignore[attr-defined]
    s2 = await report(WEEK, Scope(since=SINCE, until=UNTIL, school_id="S2"))
    assert [(r.school_id, r.offline_hours) for r in s2.schools] == [("S2", 72.0)]  # type: ignore[attr-defined]


async def test_without_since_the_week_before_until() -> None:
    found = await report(WEEK, Scope(until=UNTIL))
    assert (found.since, found.until) == (SINCE, UNTIL)  # type: ignore[attr-defined]


async def test_the_overview_and_the_printable_report_carry_the_buttons() -> None:
    deps = await recorded(WEEK)
    overview = await service.overview(deps=deps, scope=Scope(since=SINCE, until=UNTIL))
    assert overview.devices is not None
    assert overview.devices.troubles_by_kind == {"offline": 1, "battery_low": 1, "tamper": 1}
    page = pages.printable(overview, words=Words("en"))
    table = page[page.index('<table id="t-devices">') :]
    assert "2026-09-01 to 2026-09-07: 1 offline, 1 battery low, 1 tampered" in table
    chinese = pages.printable(overview)
    assert "报警按钮，2026-09-01至2026-09-07：离线1次，电量低1次，防拆报警1次" in chinese
    assert "<td>二中</td><td>T1</td><td>1</td><td>1</td><td>0</td><td>1</td><td>72.0</td>" in table
    assert "57.1%" in table and "三幼" not in table, "a school without buttons is not listed"


async def test_a_period_yet_to_come_is_empty_not_an_error() -> None:
    found = await report(WEEK, Scope(since=UNTIL + timedelta(days=400)))
    assert all(r.availability is None and r.offline == 0 for r in found.schools)  # type: ignore[attr-defined]


async def test_a_province_prints_its_buttons_per_township() -> None:
    overview = await service.overview(
        deps=await recorded(WEEK), scope=Scope(since=SINCE, until=UNTIL)
    )
    many = overview.summary.model_copy(update={"schools": pages.PRINTED_SCHOOLS_MAX + 1})
    page = pages.printable(overview.model_copy(update={"summary": many}), words=Words("en"))
    table = page[page.index('<table id="t-devices">') :]
    table = table[: table.index("</table>")]
    assert "tampered, per township" in table and "<th>Township</th>" in table
    assert "<tr><td>T1</td><td>3</td><td>1</td><td>1</td><td>1</td><td>84.0</td>" in table
    assert "二中" not in table
