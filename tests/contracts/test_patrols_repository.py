"""The contract of services.patrols.repository: the fake and MongoDB alike (conftest)."""

from __future__ import annotations

from datetime import timedelta

from services.patrols.community import (
    CommunityCheck,
    CommunityCheckRequest,
    PersonRead,
    StoredPerson,
)
from services.patrols.repository import PatrolRepository
from services.patrols.visitors import GateVisit
from services.patrols.visits import Box
from shared.events import (
    PositionReported,
    SchoolWindowPatrolled,
    UnitSeen,
    stable_id,
)
from shared.provisioning import Unit
from tests.community import check_body
from tests.values import NOW, SCHOOL

SERVICE = "patrols"  # the repository under test (conftest.repo)


async def test_position_batch_stored_once_and_unit_moved_to_its_newest_fix(
    repo: PatrolRepository,
) -> None:
    unit = Unit(
        unit_id="U1", kind="patrol_car", callsign="c", station="s", home_lat=35.7, home_lon=105.0
    )
    await repo.provision_units([unit])
    batch = [
        PositionReported(
            event_id=stable_id("fix", "U1", str(i)),
            unit_id="U1",
            lat=35.70 + i * 0.001,
            lon=105.0,
            recorded_at=NOW - timedelta(seconds=10 - i),
        )
        for i in range(5)
    ]
    await repo.record_positions(list(reversed(batch)))
    await repo.record_positions(batch)  # the same batch again stores nothing new
    await repo.record_positions(batch[:2])
    (newest,) = await repo.newest_in_history(["U1", "U2"])  # what a restart moves it to
    assert (newest.unit_id, newest.recorded_at, newest.lat) == (
        "U1",
        batch[-1].recorded_at,
        batch[-1].lat,
    )
    await repo.move_units(list(reversed(batch)))
    await repo.move_units(batch[:2])  # older fixes never move the unit back
    state = await repo.get_unit("U1")
    assert state is not None and state.lat == batch[-1].lat
    assert state.recorded_at == batch[-1].recorded_at
    history = await repo.history("U1", since=NOW - timedelta(minutes=5), until=NOW)
    assert [(f.recorded_at, f.lat) for f in history] == [(f.recorded_at, f.lat) for f in batch]
    later = await repo.history("U1", since=batch[3].recorded_at, until=NOW)
    assert len(later) == 2


async def test_history_is_keyed_by_unit_and_time_and_pruned_by_range(
    repo: PatrolRepository,
) -> None:

    def fix(unit_id: str, minutes_ago: int, lat: float = 35.7) -> PositionReported:
        at = NOW - timedelta(minutes=minutes_ago)
        return PositionReported(
            event_id=stable_id("fix", unit_id, at.isoformat()),
            unit_id=unit_id,
            lat=lat,
            lon=105.0,
            recorded_at=at,
        )

    # "U10" shares a prefix with "U1": the key's separator keeps their ranges apart
    await repo.record_positions([fix(u, m) for u in ("U1", "U10") for m in (90, 30, 5)])
    await repo.record_positions([fix("U1", 60, lat=36.5)])
    assert [
        f.recorded_at for f in await repo.history("U1", since=NOW - timedelta(hours=2), until=NOW)
    ] == [NOW - timedelta(minutes=m) for m in (90, 60, 30, 5)]
    in_box = await repo.fixes_in_box(
        Box(35.6, 35.8, 104.9, 105.1), ["U1"], (NOW - timedelta(hours=2), NOW)
    )
    assert sorted(at for _, at, _, _ in in_box) == [NOW - timedelta(minutes=m) for m in (90, 30, 5)]

    pruned = await repo.prune_history(unit_ids=["U1", "U10"], before=NOW - timedelta(minutes=45))
    assert pruned == 3  # U1 at 90 and 60 minutes, U10 at 90
    left = await repo.history("U10", since=NOW - timedelta(hours=2), until=NOW)
    assert [f.recorded_at for f in left] == [NOW - timedelta(minutes=m) for m in (30, 5)]


async def test_calendar_roster_and_post_windows_round_trip(repo: PatrolRepository) -> None:
    from datetime import date

    from services.patrols.guardposts import Calendar, RosterEntry
    from services.patrols.models import PostWindowRecord

    assert await repo.calendar() == Calendar(), "the default until one is saved"
    calendar = Calendar(holidays=[date(2026, 10, 1)])
    await repo.save_calendar(calendar)
    assert await repo.calendar() == calendar
    entry = RosterEntry(
        unit_id="U1",
        post_id="S1-stop",
        windows=["morning"],
        valid_from=date(2026, 9, 1),
        valid_to=date(2027, 1, 15),
    )
    entry_id = await repo.add_roster_entry(entry)
    assert await repo.add_roster_entry(entry) == entry_id, "the same entry again replaces it"
    assert await repo.roster(unit_id="U1") == [(entry_id, entry)]
    record = PostWindowRecord(
        key="S1-stop:2026-11-30:morning",
        post_id="S1-stop",
        school_id="S1",
        unit_id="U1",
        day=date(2026, 11, 30),
        window="morning",
        window_start=NOW,
        window_end=NOW + timedelta(hours=1),
        state="empty",
        gap_published=True,
    )
    await repo.save_post_window(record)
    assert await repo.post_window(record.key) == record
    assert await repo.post_windows_on(date(2026, 11, 30)) == [record]


async def test_status_outbox_campaigns_violations_checkins_and_tracks(
    repo: PatrolRepository,
) -> None:
    from datetime import date

    from services.patrols.tracker import OpenVisit, UnitTrack
    from services.patrols.violations import Campaign, ViolationFilter
    from shared.events import CheckinRecorded, Place, UnitStatusChanged, ViolationRecorded

    await repo.provision_units(
        [
            Unit(
                unit_id="U1",
                kind="patrol_car",
                callsign="c",
                station="s",
                home_lat=35.7,
                home_lon=105.0,
            )
        ]
    )
    unit = await repo.get_unit("U1")
    assert unit is not None and unit.status_version == 0
    busy = UnitStatusChanged(
        unit_id="U1", status="busy", previous="available", actor="U1", version=1, occurred_at=NOW
    )
    assert await repo.set_status(unit, busy)
    assert not await repo.set_status(unit, busy), "compare-and-set: the unit changed meanwhile"
    (waiting,) = await repo.units_with_outbox()
    assert (waiting.status, waiting.status_version, waiting.outbox) == ("busy", 1, [busy])
    await repo.pull_status_event("U1", busy.event_id)
    assert await repo.units_with_outbox() == []

    def campaign(campaign_id: str, starts_on: date) -> Campaign:
        return Campaign(
            campaign_id=campaign_id,
            name="专项整治",
            starts_on=starts_on,
            ends_on=date(2026, 12, 31),
            created_by="s1",
            created_at=NOW.replace(microsecond=0),
        )

    spring, autumn = campaign("spring", date(2026, 3, 1)), campaign("autumn", date(2026, 9, 1))
    assert await repo.add_campaign(spring) and await repo.add_campaign(autumn)
    assert not await repo.add_campaign(spring), "one campaign per id"
    assert await repo.campaign("spring") == spring
    assert [c.campaign_id for c in await repo.campaigns()] == ["autumn", "spring"], "newest first"

    def violation(n: int, kind: str) -> ViolationRecorded:
        return ViolationRecorded(
            violation_id=stable_id("violation", str(n)),
            unit_id="U1",
            officer="o1",
            kind=kind,  # type: ignore[arg-type]
            place=Place(lat=35.7, lon=105.0),
            school_id="S1",
            observed_at=NOW - timedelta(minutes=n),
        )

    recorded = [violation(1, "speeding"), violation(2, "overloading"), violation(3, "speeding")]
    for event in recorded + recorded:
        await repo.store_violation(event)
    speeding = await repo.violations(ViolationFilter(kind="speeding"))
    assert [v.violation_id for v in speeding] == [
        recorded[0].violation_id,
        recorded[2].violation_id,
    ]
    recent = await repo.violations(ViolationFilter(since=NOW - timedelta(minutes=2), limit=1))
    assert [v.violation_id for v in recent] == [recorded[0].violation_id]

    checkin = CheckinRecorded(
        occurred_at=NOW,  # stored to the millisecond, as BSON keeps it
        checkin_id=stable_id("checkin", "1"),
        unit_id="U1",
        point_id="P1",
        school_id="S1",
        point_kind="stop",
        lat=35.7,
        lon=105.0,
        at=NOW - timedelta(minutes=1),
        distance_m=3.5,
        flagged=False,
    )
    await repo.store_checkin(checkin)
    await repo.store_checkin(checkin)
    assert await repo.checkins("P1", since=NOW - timedelta(hours=1), until=NOW) == [checkin]
    assert await repo.checkins("P1", since=NOW, until=NOW + timedelta(hours=1)) == []

    track = UnitTrack(
        watermark=NOW,
        open={"P1": OpenVisit("P1", NOW - timedelta(minutes=3), NOW, 4)},
    )
    await repo.save_tracks({"U1": track})
    assert await repo.load_tracks(["U1", "U2"]) == {"U1": track}


async def test_community_checks_matched_by_hash_erased_and_reads_audited(
    repo: PatrolRepository,
) -> None:
    key = b"k" * 32
    old = CommunityCheckRequest.model_validate(
        check_body(at=(NOW - timedelta(days=200)).isoformat())
    )
    stored = [
        CommunityCheck(
            check_id=request.check_id,
            school=SCHOOL,
            distance_m=100.0,
            premises_kind=request.premises_kind,
            premises_name=None,
            address=request.address,
            lat=request.lat,
            lon=request.lon,
            checked_at=request.at,
            checked=request.checked,
            failed=request.failed,
            people=[StoredPerson.of(p, key) for p in request.people],
            issues=request.issues,
            hazard_ids=[],
            note=None,
            checked_by="U001",
            digest="d",
        )
        for request in (old, CommunityCheckRequest.model_validate(check_body(at=NOW.isoformat())))
    ]
    for check in stored:
        assert await repo.insert_check(check)
    assert not await repo.insert_check(stored[0])
    assert await repo.check(stored[1].check_id) == stored[1]
    newest = await repo.checks(school_ids=[SCHOOL.school_id], since=None, limit=10)
    assert [c.check_id for c in newest] == [stored[1].check_id, stored[0].check_id]
    assert await repo.checks(school_ids=["S404"], since=None, limit=10) == []
    assert len(await repo.unpublished_checks(before=NOW + timedelta(seconds=1))) == 2
    await repo.check_published(stored[0].check_id)
    pending = await repo.unpublished_checks(before=NOW + timedelta(seconds=1))
    assert [c.check_id for c in pending] == [stored[1].check_id]
    id_hash = stored[0].people[0].id_hash
    assert id_hash is not None
    assert len(await repo.checks_with_person(id_hash)) == 2

    (due,) = await repo.checks_to_erase(before=NOW - timedelta(days=180), limit=10)
    erased = due.erased(at=NOW)
    await repo.erase_people(erased)
    assert await repo.checks_to_erase(before=NOW - timedelta(days=180), limit=10) == []
    assert await repo.check(due.check_id) == erased
    assert [c.check_id for c in await repo.checks_with_person(id_hash)] == [stored[1].check_id]

    read = PersonRead(at=NOW, actor="li", role="supervisor", action="match", check_ids=[])
    await repo.audit_read(read)
    assert await repo.person_reads(since=None, actor="li", limit=10) == [read]
    assert await repo.person_reads(since=NOW + timedelta(seconds=1), actor=None, limit=10) == []


async def test_gate_visits_change_on_their_version_and_are_erased(repo: PatrolRepository) -> None:
    arrived = GateVisit(
        visit_id=stable_id("visit", "1"),
        version=1,
        change="arrived",
        school=SCHOOL,
        purpose="parent",
        host="三年级二班",
        id_checked=True,
        arrived_at=NOW - timedelta(days=100),
        recorded_by="S1",
        changed_at=NOW,
        name="赵六",
        phone="13700000000",
    )
    assert await repo.insert_visit(arrived)
    assert not await repo.insert_visit(arrived)
    assert await repo.visits_inside() == [arrived]
    assert await repo.unpublished_visits(before=NOW + timedelta(seconds=1)) == [arrived]
    await repo.visit_published(arrived.visit_id, 1)
    assert await repo.unpublished_visits(before=NOW + timedelta(seconds=1)) == []
    out = arrived.model_copy(update={"version": 2, "change": "left", "left_at": NOW})
    assert await repo.replace_visit(out)
    assert not await repo.replace_visit(out), "version 1 is no longer held"
    assert await repo.visits_inside() == []
    school = SCHOOL.school_id
    assert await repo.visits(school_id=school, inside=True, since=None, limit=9) == []
    assert await repo.visits(school_id=school, inside=False, since=None, limit=9) == [out]
    assert await repo.visits(school_id=school, inside=None, since=NOW, limit=9) == []
    (due,) = await repo.visits_to_erase(before=NOW - timedelta(days=90), limit=10)
    gone = due.model_copy(update={"name": None, "phone": None, "erased_at": NOW})
    await repo.erase_visit(gone)
    assert await repo.visit(arrived.visit_id) == gone
    assert await repo.visits_to_erase(before=NOW - timedelta(days=90), limit=10) == []


async def test_school_windows_are_worked_out_once_and_relayed(repo: PatrolRepository) -> None:
    day = NOW.date()
    window = SchoolWindowPatrolled(
        event_id=stable_id("w"),
        occurred_at=NOW,
        school=SCHOOL,
        day=day,
        window="noon",
        window_start=NOW - timedelta(minutes=40),
        window_end=NOW,
        radius_m=300,
        seen=True,
        minutes_present=12,
        window_minutes=40,
        units=[UnitSeen(unit_id="U1", kind="foot_patrol", mode="foot", minutes=12)],
    )
    key = f"{SCHOOL.school_id}|{day.isoformat()}|noon"
    assert await repo.visibility_keys(window_start=window.window_start) == set()
    assert await repo.insert_visibility(key, window)
    assert not await repo.insert_visibility(key, window)
    assert await repo.visibility_keys(window_start=window.window_start) == {SCHOOL.school_id}
    assert await repo.visibility_keys(window_start=window.window_end) == set()
    assert await repo.unpublished_visibility(before=NOW + timedelta(seconds=1)) == [window]
    await repo.visibility_published(key)
    assert await repo.unpublished_visibility(before=NOW + timedelta(seconds=1)) == []
