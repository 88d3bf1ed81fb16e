"""The demo's guard-post duty (tools/guard_duty.py): windows around the time it starts, each
guard-post unit at the gate nearest its home."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.patrols.guardposts import Calendar, RosterEntry
from shared.provisioning import load_county
from shared.settings import ROOT
from tools import guard_duty

COUNTY = load_county(ROOT / "deploy" / "county.yaml")
ZONE = ZoneInfo("Asia/Shanghai")


def test_one_window_has_ended_one_is_open_and_one_is_to_come() -> None:
    now = datetime(2026, 11, 29, 15, 0, tzinfo=ZONE)  # a Sunday: every weekday a school day
    found = guard_duty.calendar_around(now, ZONE)
    assert found is not None
    calendar = Calendar.model_validate(found)
    assert calendar.is_school_day(now.date())
    windows = calendar.windows_on(now.date())
    assert windows["morning"][1] < now, "ended"
    assert windows["noon"][0] <= now < windows["noon"][1], "open"
    assert windows["afternoon"][0] > now, "to come"


def test_no_windows_across_midnight() -> None:
    for minutes in (20, 23 * 60 + 40):
        now = datetime(2026, 11, 30, tzinfo=ZONE) + timedelta(minutes=minutes)
        assert guard_duty.calendar_around(now, ZONE) is None, now


def test_each_guard_post_unit_is_rostered_once_at_a_school_gate_for_today() -> None:
    today = date(2026, 11, 30)
    entries = [RosterEntry.model_validate(e) for e in guard_duty.roster(COUNTY, today)]
    guards = {u.unit_id for u in COUNTY.units if u.kind == "guard_post"}
    assert guards and {e.unit_id for e in entries} == guards and len(entries) == len(guards)
    for entry in entries:
        gate = COUNTY.point(entry.post_id)
        assert gate is not None and gate.kind == "stop"
        assert entry.covers(today) and not entry.covers(today + timedelta(days=1))
