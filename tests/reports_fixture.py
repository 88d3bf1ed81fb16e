"""A known period of events for the report tests (unit, integration and e2e use the same):
every figure the reports give for it is worked out by hand in the tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.events import (
    ActivityRecorded,
    AlarmLifecycle,
    AlarmState,
    CampaignOpened,
    CampaignRef,
    CheckinRecorded,
    CommunityCheckRecorded,
    Drill,
    Event,
    GateVisitChanged,
    GuardPostWindow,
    HazardChanged,
    Inspection,
    Letters,
    Place,
    PointVisited,
    SchoolWindowPatrolled,
    Session,
    UnitSeen,
    VideoCheckRecorded,
    ViolationKind,
    ViolationRecorded,
    stable_id,
)
from shared.provisioning import County, PatrolPoint, School
from shared.topics import Topics

DAY = datetime(2026, 9, 1, tzinfo=UTC)  # the period is September 2026
UNTIL = datetime(2026, 10, 1, tzinfo=UTC)

SCHOOLS = [
    School(school_id="S1", name="一小", township="T1", lat=35.70, lon=105.00),
    School(school_id="S2", name="二中", township="T1", lat=35.71, lon=105.01),
    School(school_id="S3", name="三幼", township="T2", lat=35.72, lon=105.02),
]
POINTS = [
    PatrolPoint(
        point_id="P1a", school_id="S1", kind="must_reach", lat=35.7, lon=105.0, radius_m=100
    ),
    PatrolPoint(point_id="P1b", school_id="S1", kind="stop", lat=35.7, lon=105.0, radius_m=100),
    PatrolPoint(
        point_id="P2", school_id="S2", kind="must_reach", lat=35.71, lon=105.01, radius_m=100
    ),
    PatrolPoint(
        point_id="P3", school_id="S3", kind="must_reach", lat=35.72, lon=105.02, radius_m=100
    ),
]
COUNTY = County(name="test", schools=SCHOOLS, devices=[], units=[], patrol_points=POINTS)
REF = {s.school_id: s.ref() for s in SCHOOLS}


def at(day: int, hour: int = 8, minute: int = 0) -> datetime:
    return DAY + timedelta(days=day - 1, hours=hour, minutes=minute)


# --- alarms: fire resolved after 30 s ack; fire still open; intrusion cancelled; a test -------
def alarm(
    name: str, school: str, state: AlarmState, after_s: float, **extra: object
) -> AlarmLifecycle:
    return AlarmLifecycle(
        event_id=stable_id(name, state),
        occurred_at=at(2) + timedelta(seconds=after_s),
        alarm_id=stable_id(name),
        state=state,
        school=REF[school],
        kind=extra.pop("kind", "fire"),  # type: ignore[arg-type]
        silent=False,
        test=bool(extra.pop("test", False)),
        location={"building": "A", "floor": 1, "room": "101"},  # type: ignore[arg-type]
        device_id=f"{school}-BTN1",
        pressed_at=at(2),
        **extra,  # type: ignore[arg-type]
    )


ALARMS: list[Event] = [
    alarm("fire-1", "S1", "raised", 0),
    alarm("fire-1", "S1", "acknowledged", 30),
    alarm("fire-1", "S1", "on_scene", 240),
    alarm("fire-1", "S1", "resolved", 900, outcome="handled"),
    alarm("fire-2", "S2", "raised", 0),
    alarm("fire-2", "S2", "acknowledged", 10),
    alarm("intrusion-1", "S3", "raised", 0, kind="intrusion"),
    alarm("intrusion-1", "S3", "cancelled", 60, kind="intrusion", outcome="false_alarm"),
    alarm("drill-1", "S1", "raised", 0, test=True),
    alarm("drill-1", "S1", "acknowledged", 1, test=True),
    alarm("drill-1", "S1", "resolved", 5, test=True, outcome="handled"),
]

# --- violations: 7 in September, 2 campaigns; one in October, outside the period ------------
SPRING = CampaignRef(campaign_id="C1", name="上下学专项整治")
AUTUMN = CampaignRef(campaign_id="C2", name="黑车整治")


def violation(
    n: int, kind: ViolationKind, school: str | None, campaign: CampaignRef | None, day: int = 3
) -> ViolationRecorded:
    return ViolationRecorded(
        event_id=stable_id("violation", str(n)),
        violation_id=stable_id("v", str(n)),
        unit_id="T01",
        officer="张警官",
        kind=kind,
        place=Place(lat=35.70, lon=105.00, description="north gate"),
        school_id=school,
        observed_at=at(day),
        campaign=campaign,
    )


def campaign(ref: CampaignRef, start: date, end: date, schools: list[str]) -> CampaignOpened:
    return CampaignOpened(
        event_id=stable_id("campaign", ref.campaign_id),
        campaign_id=ref.campaign_id,
        name=ref.name,
        school_ids=schools,
        starts_on=start,
        ends_on=end,
        created_by="li.supervisor",
    )


# 3 campaigns held in September (one found nothing), one in August
CAMPAIGNS: list[Event] = [
    campaign(SPRING, date(2026, 9, 1), date(2026, 9, 30), []),
    campaign(AUTUMN, date(2026, 9, 10), date(2026, 9, 20), ["S3"]),
    campaign(
        CampaignRef(campaign_id="C3", name="护学岗整治"),
        date(2026, 9, 25),
        date(2026, 10, 10),
        ["S2"],
    ),
    campaign(
        CampaignRef(campaign_id="C0", name="暑期整治"), date(2026, 8, 1), date(2026, 8, 20), []
    ),
]

VIOLATIONS: list[Event] = [
    violation(1, "speeding", "S1", SPRING),
    violation(2, "speeding", "S1", SPRING),
    violation(3, "speeding", "S2", SPRING),
    violation(4, "illegal_parking", "S2", SPRING),
    violation(5, "overloading", "S3", AUTUMN),
    violation(6, "overloading", "S3", AUTUMN),
    violation(7, "other", None, None),
    violation(8, "speeding", "S1", SPRING, day=31),  # 1 October: outside
]


# --- check-ins: S1 both points (2 days) + 1 flagged; S2 only flagged; S3 twice one day -------
def checkin(n: int, point: str, school: str, day: int, *, flagged: bool = False) -> CheckinRecorded:
    return CheckinRecorded(
        event_id=stable_id("checkin", str(n)),
        checkin_id=stable_id("c", str(n)),
        unit_id="P01",
        point_id=point,
        school_id=school,
        point_kind="stop" if point == "P1b" else "must_reach",
        lat=35.7,
        lon=105.0,
        at=at(day),
        distance_m=500 if flagged else 20,
        flagged=flagged,
    )


CHECKINS: list[Event] = [
    checkin(1, "P1a", "S1", 1),
    checkin(2, "P1b", "S1", 2),
    checkin(3, "P1a", "S1", 2, flagged=True),
    checkin(4, "P2", "S2", 2, flagged=True),
    checkin(5, "P3", "S3", 4),
    checkin(6, "P3", "S3", 4),
]


# --- visits seen in positions: S1's gate 2 min on day 1, S3's point 10 min on day 5 ---------
def visit(unit: str, point: str, school: str, day: int, dwell_s: float) -> PointVisited:
    arrived = at(day, 7, 30)
    return PointVisited(
        event_id=stable_id("visit-event", unit, point, str(day)),
        visit_id=stable_id("visit", unit, point, str(day)),
        unit_id=unit,
        point_id=point,
        school_id=school,
        point_kind="must_reach",
        arrived_at=arrived,
        left_at=arrived + timedelta(seconds=dwell_s),
        dwell_s=dwell_s,
        fixes=int(dwell_s // 10) + 1,
        closed_by="left",
    )


VISITS: list[Event] = [
    visit("P01", "P1a", "S1", 1, 120),
    visit("P02", "P3", "S3", 5, 600),
    visit("P02", "P2", "S2", 31, 60),  # 1 October: outside the period
]


# --- guard posts: S1 mornings staffed, late, empty, staffed; S2 one noon staffed ------------
def window(school: str, day: int, name: str, state: str, *, final: bool = True) -> GuardPostWindow:
    start = at(day, 7 if name == "morning" else 12)
    return GuardPostWindow(
        event_id=stable_id("window", school, str(day), name, state, str(final)),
        post_id=f"{school}-gate",
        school_id=school,
        unit_id="G01",
        day=date(2026, 9, day),
        window=name,  # type: ignore[arg-type]
        window_start=start,
        window_end=start + timedelta(hours=1),
        state=state,  # type: ignore[arg-type]
        final=final,
    )


GUARD_WINDOWS: list[Event] = [
    window("S1", 1, "morning", "staffed"),
    window("S1", 2, "morning", "late"),
    window("S1", 3, "morning", "empty", final=False),  # the live gap: not a figure
    window("S1", 3, "morning", "empty"),
    window("S1", 4, "morning", "staffed"),
    window("S2", 1, "noon", "staffed"),
]

# --- activities ------------------------------------------------------------------------------
ALL_PASS = {
    "alarm_buttons": True,
    "fire_safety": True,
    "cctv": True,
    "evacuation_routes": True,
    "visitor_registration": True,
    "guards": True,
}


def activity(n: int, school: str, day: int, details: object) -> ActivityRecorded:
    return ActivityRecorded(
        event_id=stable_id("activity", str(stable_id("a", str(n)))),
        activity_id=stable_id("a", str(n)),
        school_id=school,
        held_at=at(day, 10),
        recorded_by="li.supervisor",
        activity=details,  # type: ignore[arg-type]
    )


ACTIVITIES: list[Event] = [
    activity(1, "S1", 5, Inspection(items=ALL_PASS)),
    activity(2, "S2", 5, Inspection(items=ALL_PASS | {"cctv": False})),
    activity(3, "S1", 20, Inspection(items=ALL_PASS | {"guards": False})),
    activity(4, "S1", 6, Session(topic="legal_education", audience=300, title="开学第一课")),
    activity(5, "S3", 7, Session(topic="traffic_safety", audience=120)),
    activity(6, "S1", 8, Session(topic="traffic_safety", audience=80)),
    activity(7, "S2", 9, Letters(topic="traffic_safety", letters=1500)),
    activity(8, "S1", 9, Letters(topic="legal_education", letters=500)),
    activity(9, "S1", 10, Drill(scenario="intruder", participants=400)),
]


# --- hazards: every change of each, as patrols publishes them ---------------------------------
def hazard_changes(
    n: int, school: str, kind: str, reported: datetime, *steps: tuple[str, datetime, dict[str, Any]]
) -> list[HazardChanged]:
    """Hazard `n` reported at `reported`, then each (change, when, fields) by the rules."""
    from services.patrols import hazards as rules

    report = rules.HazardReport.model_validate(
        {
            "hazard_id": str(stable_id("fixture-hazard", str(n))),
            "school_id": school,
            "kind": kind,
            "place": {"lat": 35.7, "lon": 105.0},
            "found_by": "patrol",
            "description": f"隐患{n}",
        }
    )
    changes = [rules.reported(report, school=REF[school], actor="U1", now=reported)]
    for change, when, fields in steps:
        changes.append(rules.apply(changes[-1], change, actor="li", now=when, **fields))  # type: ignore[arg-type]
    return changes


def assigned_to(department: str, deadline: datetime) -> dict[str, Any]:
    return {"department": department, "deadline": deadline}


# H1 rectified on time and verified; H2 overdue, then rectified late; H3 overdue at the period's
# end; H4 open at the end (assigned only after it); H5 due after the period; H6 from August.
HAZARDS: list[HazardChanged] = [
    *hazard_changes(
        1,
        "S1",
        "street_vending",
        at(2),
        ("assigned", at(2, 9), assigned_to("market_regulation", at(9))),
        ("rectified", at(5), {}),
        ("verified", at(6), {}),
    ),
    *hazard_changes(
        2,
        "S2",
        "traffic",
        at(3),
        ("assigned", at(3, 9), assigned_to("traffic_police", at(10))),
        ("overdue", at(11), {}),
        ("rectified", at(15), {}),
    ),
    *hazard_changes(
        3,
        "S3",
        "food_safety",
        at(4),
        ("assigned", at(4, 9), assigned_to("health", at(12))),
        ("overdue", at(13), {}),
    ),
    *hazard_changes(
        4,
        "S3",
        "building",
        at(20),
        ("assigned", at(33), assigned_to("education", at(40))),
    ),
    *hazard_changes(
        5,
        "S1",
        "fire_safety",
        at(25),
        ("assigned", at(25, 9), assigned_to("fire_rescue", at(50))),
    ),
    *hazard_changes(6, "S2", "traffic", at(-1)),
]


# --- video checks: S1's gate in its morning windows (staffed, late, empty), two gates without a
# post; the late one shows an officer the GPS had not seen arrive -----------------------------
def video_check(
    n: int, school: str, when: datetime, traffic: str, patrol: bool, on_post: bool | None = None
) -> VideoCheckRecorded:
    return VideoCheckRecorded(
        event_id=stable_id("fixture-video", str(n)),
        check_id=stable_id("fixture-video-check", str(n)),
        school=REF[school],
        post_id=f"{school}-gate" if on_post is not None else None,
        at=when,
        officer_on_post=on_post,
        traffic=traffic,  # type: ignore[arg-type]
        patrol_seen=patrol,
        checked_by="chen.dispatcher",
    )


VIDEO_CHECKS: list[VideoCheckRecorded] = [
    video_check(1, "S1", at(1, 7, 30), "smooth", True, on_post=True),
    video_check(2, "S1", at(2, 7, 10), "congested", False, on_post=True),
    video_check(3, "S1", at(3, 7, 40), "blocked", False, on_post=False),
    video_check(4, "S2", at(1, 12, 30), "congested", True),
    video_check(5, "S3", at(5, 16, 0), "smooth", False),
    video_check(6, "S3", at(-1, 16, 0), "blocked", False),  # August's
]


# --- community checks: two rental flats near S1 and a hotel near S2 (T1), a rental near S3
# (T2), and one in August -------------------------------------------------------------------
def community_check(
    n: int,
    school: str,
    when: datetime,
    kind: str,
    people: tuple[int, int, int],
    failed: int = 0,
    issues: int = 0,
    hazards: int = 0,
) -> CommunityCheckRecorded:
    """`people`: recorded, unregistered, newly arrived."""
    items = ["tenant_register", "fire_safety", "security_measures"]
    return CommunityCheckRecorded(
        event_id=stable_id("fixture-community", str(n)),
        check_id=stable_id("fixture-community-check", str(n)),
        school=REF[school],
        distance_m=120.0,
        premises_kind=kind,  # type: ignore[arg-type]
        checked_at=when,
        checked=items,  # type: ignore[arg-type]
        failed=items[:failed],  # type: ignore[arg-type]
        people=people[0],
        unregistered=people[1],
        newly_arrived=people[2],
        issues=issues,
        hazard_ids=[stable_id("fixture-community-hazard", str(n), str(i)) for i in range(hazards)],
        checked_by="U001",
    )


COMMUNITY_CHECKS: list[CommunityCheckRecorded] = [
    community_check(1, "S1", at(2, 15), "rental_housing", (3, 1, 1), failed=1, issues=1),
    community_check(2, "S1", at(9, 15), "rental_housing", (2, 0, 0)),
    community_check(3, "S2", at(9, 20), "hotel", (5, 2, 3), failed=2, issues=2, hazards=1),
    community_check(4, "S3", at(20, 10), "rental_housing", (1, 1, 1), issues=1, hazards=1),
    community_check(5, "S3", at(-2, 10), "hotel", (4, 4, 4), failed=3, issues=3, hazards=3),
]


# --- gate visitors: three at S1 (one inside past closing, out at 19:30), one at S2 never seen
# leaving, one at S3 in on the last evening and out after the period, one in August ----------
def visit_changes(
    n: int, school: str, purpose: str, arrived: datetime, *changes: tuple[str, datetime]
) -> list[GateVisitChanged]:
    """The visit's events: arrived, then each (change, when) in turn."""
    versions = [("arrived", arrived), *changes]
    out: list[GateVisitChanged] = []
    left_at, late = None, False
    for version, (change, when) in enumerate(versions, start=1):
        left_at = when if change == "left" else left_at
        late = late or change == "after_hours"
        out.append(
            GateVisitChanged(
                event_id=stable_id("fixture-visit", str(n), str(version)),
                occurred_at=when,
                visit_id=stable_id("fixture-visit", str(n)),
                version=version,
                change=change,  # type: ignore[arg-type]
                school=REF[school],
                purpose=purpose,  # type: ignore[arg-type]
                arrived_at=arrived,
                left_at=left_at,
                after_hours=late,
                recorded_by=school,
            )
        )
    return out


GATE_VISITS: list[GateVisitChanged] = [
    *visit_changes(1, "S1", "parent", at(2, 8), ("left", at(2, 8, 30))),
    *visit_changes(2, "S1", "delivery", at(3, 10), ("left", at(3, 10, 10))),
    *visit_changes(
        3, "S1", "contractor", at(4, 14), ("after_hours", at(4, 18)), ("left", at(4, 19, 30))
    ),
    *visit_changes(4, "S2", "visitor", at(5, 9), ("after_hours", at(5, 18))),
    *visit_changes(
        5, "S3", "official", at(30, 17), ("after_hours", at(30, 18)), ("left", at(31, 9))
    ),
    *visit_changes(6, "S3", "parent", at(-1, 8), ("left", at(-1, 9))),
]


# --- police visibility: S1's morning seen (a patrol car, 20 min) and noon not; S2's morning
# seen the whole hour (foot and special police); S3's afternoon seen 5 min, its morning not;
# one in August ----------------------------------------------------------------------------
WINDOW_TIMES = {"morning": (7, 60), "noon": (11, 40), "afternoon": (17, 50)}


def school_window(
    school: str, day: int, window: str, minutes: int, modes: tuple[str, ...] = ()
) -> SchoolWindowPatrolled:
    hour, length = WINDOW_TIMES[window]
    start = at(day, hour)
    return SchoolWindowPatrolled(
        event_id=stable_id("fixture-window", school, str(day), window),
        occurred_at=start + timedelta(minutes=length),
        school=REF[school],
        day=start.date(),
        window=window,  # type: ignore[arg-type]
        window_start=start,
        window_end=start + timedelta(minutes=length),
        radius_m=300,
        seen=bool(modes),
        minutes_present=minutes,
        window_minutes=length,
        units=[
            UnitSeen(unit_id=f"U-{mode}", kind=mode, mode=mode, minutes=minutes)  # type: ignore[arg-type]
            for mode in modes
        ],
    )


VISIBILITY: list[SchoolWindowPatrolled] = [
    school_window("S1", 2, "morning", 20, ("vehicle",)),
    school_window("S1", 2, "noon", 0),
    school_window("S2", 2, "morning", 60, ("foot", "special")),
    school_window("S3", 9, "afternoon", 5, ("special",)),
    school_window("S3", 9, "morning", 0),
    school_window("S1", -1, "morning", 30, ("vehicle",)),  # August's
]

EVERYTHING: list[Event] = (
    ALARMS
    + CAMPAIGNS
    + VIOLATIONS
    + CHECKINS
    + VISITS
    + GUARD_WINDOWS
    + ACTIVITIES
    + HAZARDS
    + VIDEO_CHECKS
    + COMMUNITY_CHECKS
    + GATE_VISITS
    + VISIBILITY
)


async def feed(deps: object, events: list[Event]) -> None:
    """Each event into the read model its subscriber would put it in, in one batch per
    subscriber (the events of each type in their order)."""
    from services.reporting import service

    recorders = {
        AlarmLifecycle: service.record_alarm,
        ViolationRecorded: service.record_violation,
        CampaignOpened: service.record_campaign,
        CheckinRecorded: service.record_checkin,
        PointVisited: service.record_visit,
        GuardPostWindow: service.record_guard_window,
        ActivityRecorded: service.record_activity,
        HazardChanged: service.record_hazard,
        VideoCheckRecorded: service.record_video_check,
        CommunityCheckRecorded: service.record_community_check,
        GateVisitChanged: service.record_gate_visit,
        SchoolWindowPatrolled: service.record_school_window,
    }
    unknown = {type(event).__name__ for event in events} - {k.__name__ for k in recorders}
    if unknown:
        raise TypeError(f"no reporting subscriber for {sorted(unknown)}")
    for kind, record in recorders.items():
        batch = [event for event in events if type(event) is kind]
        await service.record_batch(deps=deps, record=record, events=batch)  # type: ignore[arg-type]


async def fed(events: list[Event], repo: object = None) -> Any:
    """Reporting's Deps over `repo` (the in-memory fake by default), `events` fed in."""
    from services.reporting.service import Deps
    from tests.fakes.publisher import RecordingPublisher
    from tests.fakes.reporting import InMemoryReportingRepository

    deps = Deps(
        publisher=RecordingPublisher(),
        topics=Topics(),
        repo=repo or InMemoryReportingRepository(),  # type: ignore[arg-type]
        county=COUNTY,
    )
    await feed(deps, events)
    return deps
