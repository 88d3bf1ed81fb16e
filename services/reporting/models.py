"""Read models and report rows of the reporting service."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.events import ActivityDetails
from shared.inputs import Moment


class SchoolAlarmCount(BaseModel):
    """Alarms of one school in a period; tests and drills counted apart, never in `alarms`."""

    school_id: str
    name: str
    township: str
    alarms: int = Field(..., ge=0, description="Real alarms")
    tests: int = Field(..., ge=0, description="Tests and drills")


class AlarmFact(BaseModel):
    """One alarm as the reports see it (collection `alarm_facts`): when it was pressed and when
    it first reached each state."""

    alarm_id: uuid.UUID
    school_id: str
    township: str
    kind: str
    test: bool
    pressed_at: datetime
    states: dict[str, datetime]
    closed: str | None = Field(None, description="resolved or cancelled, once it ended")
    outcome: str | None = None
    raised_at: datetime | None = Field(None, description="When it was raised: its period")


class IntervalFigures(BaseModel):
    """Response time from the press to one state, over the real alarms of a period."""

    interval: str = Field(..., description="press_to_<state>")
    alarms: int = Field(..., ge=0, description="Real alarms that reached the state")
    missing: int = Field(..., ge=0, description="Real alarms that did not (yet)")
    p50_s: float | None = None
    p90_s: float | None = None
    p99_s: float | None = None
    max_s: float | None = None


class ResponseTimes(BaseModel):
    intervals: list[IntervalFigures]
    tests_excluded: int = Field(..., ge=0, description="Tests and drills in the period, left out")


class AlarmOutcomeRow(BaseModel):
    """Alarms of one kind that ended one way (`open` while not resolved or cancelled)."""

    kind: str
    outcome: str = Field(..., description="resolved:<outcome>, cancelled:<outcome>, or open")
    alarms: int = Field(..., ge=0, description="Real alarms")
    tests: int = Field(..., ge=0, description="Tests and drills, counted apart")


class GuardPostRow(BaseModel):
    """One school's guard post in one rush-hour window over the period (closed windows only)."""

    school_id: str
    name: str
    township: str
    window: str = Field(..., description="morning, noon or afternoon")
    windows: int = Field(..., ge=0, description="Windows judged in the period")
    staffed: int = Field(..., ge=0, description="On post at the window's start")
    late: int = Field(..., ge=0, description="Arrived after the start")
    empty: int = Field(..., ge=0, description="Nobody came: a gap")
    staffing_rate: float | None = Field(
        None, ge=0, le=1, description="staffed / windows; late arrivals are not staffed"
    )
    gap_days: list[str] = Field(default_factory=list, description="Days the window was empty")


class CoverageRow(BaseModel):
    """Patrol coverage of one school: check-ins at its patrol points, and the visits patrols
    saw in the units' positions (inside a point's geofence, with the time spent there)."""

    school_id: str
    name: str
    township: str
    points: int = Field(..., ge=0, description="Patrol points provisioned at the school")
    points_visited: int = Field(
        ..., ge=0, description="Points with an accepted check-in or a visit"
    )
    checkins: int = Field(..., ge=0, description="Accepted check-ins (inside the geofence)")
    flagged: int = Field(..., ge=0, description="Check-ins outside the geofence, not counted")
    visits: int = Field(..., ge=0, description="Visits seen in the units' positions")
    dwell_s: float = Field(..., ge=0, description="Time units spent inside, summed over visits")
    days_visited: int = Field(..., ge=0, description="Days with a check-in or a visit")
    covered: bool = Field(..., description="Every point of the school was visited")


class ViolationRow(BaseModel):
    campaign_id: str = Field(..., description="`-` outside any campaign")
    campaign: str
    kind: str
    violations: int = Field(..., ge=0)


class CampaignRow(BaseModel):
    campaign_id: str
    name: str
    starts_on: date | None = Field(None, description="None: known only from its violations")
    ends_on: date | None = None
    violations: int = Field(..., ge=0, description="In the period and scope")


class ViolationsReport(BaseModel):
    total: int = Field(..., ge=0)
    campaigns: int = Field(
        ..., ge=0, description="Campaigns held in the period for these schools, or with violations"
    )
    by_kind: dict[str, int]
    rows: list[ViolationRow]
    held: list[CampaignRow] = Field(default_factory=list, description="Each campaign counted")


class VideoCheckRow(BaseModel):
    """One video check, beside what the post's GPS said at that moment."""

    at: datetime
    township: str
    school_name: str
    post_id: str | None = None
    officer_on_post: bool | None = None
    gps_on_post: bool | None = Field(
        None,
        description="The post's unit had arrived by then (its window's final outcome); None: "
        "no post, or no window judged",
    )
    disagrees: bool = Field(..., description="Video and GPS both say, and differ")
    traffic: str
    patrol_seen: bool
    snapshot: str | None = None
    note: str | None = None
    checked_by: str


class VideoBulletin(BaseModel):
    """The video checks of a period (a day: the daily bulletin, 通报)."""

    checks: int = Field(..., ge=0)
    officer_absent: int = Field(..., ge=0, description="Checks of a post with no officer on it")
    congested: int = Field(..., ge=0)
    blocked: int = Field(..., ge=0)
    patrol_seen: int = Field(..., ge=0)
    disagreements: int = Field(..., ge=0)
    rows: list[VideoCheckRow]


class VisibilityRow(BaseModel):
    """Police visibility (见警率) in schools' rush-hour windows: all schools (no township, no
    school), one township's, or one school's."""

    township: str | None = None
    school_id: str | None = None
    school_name: str | None = None
    school_windows: int = Field(..., ge=0, description="Schools' rush-hour windows worked out")
    seen: int = Field(..., ge=0, description="Windows in which a unit was near the school")
    visibility_rate: float | None = Field(None, description="seen / school_windows")
    minutes_present: int = Field(..., ge=0, description="Minutes in which any unit was near")
    presence_rate: float | None = Field(None, description="minutes present / window minutes")
    vehicle: int = Field(..., ge=0, description="Windows with a vehicle patrol near")
    foot: int = Field(..., ge=0, description="Windows with a foot patrol near")
    special: int = Field(..., ge=0, description="Windows with special patrol police near")


class VisibilityReport(BaseModel):
    rows: list[VisibilityRow] = Field(
        ..., description="All first, then per township, then per school"
    )


class GateVisitRow(BaseModel):
    """Visitors at schools' gates in the period: all schools (no school), or one school's."""

    school_id: str | None = None
    school_name: str | None = None
    township: str | None = None
    visitors: int = Field(..., ge=0, description="Visitors who came in")
    still_inside: int = Field(..., ge=0, description="Not seen leaving by the period's end")
    after_hours: int = Field(..., ge=0, description="Inside when the school closed")
    stay_p50_min: float | None = Field(None, description="Median stay of those who left")


class GateVisitsReport(BaseModel):
    at: datetime = Field(..., description="The moment visits are read at (the period's end)")
    rows: list[GateVisitRow] = Field(..., description="All first, then per school")


class CommunityCheckRow(BaseModel):
    """Community checks in the period: all of them (no township), or one township's."""

    township: str | None = None
    checks: int = Field(..., ge=0)
    rental_housing: int = Field(..., ge=0, description="Checks of rental housing")
    hotels: int = Field(..., ge=0, description="Checks of hotels")
    people: int = Field(..., ge=0, description="People recorded")
    unregistered: int = Field(..., ge=0, description="Of them, not registered with the police")
    newly_arrived: int = Field(..., ge=0, description="Of them, newly arrived (流动人口)")
    items_failed: int = Field(..., ge=0, description="Items checked and not met")
    issues: int = Field(..., ge=0, description="Issues raised")
    hazards: int = Field(..., ge=0, description="Issues reported as hazards")


class CommunityChecksReport(BaseModel):
    rows: list[CommunityCheckRow] = Field(..., description="All first, then per township")


class HazardRow(BaseModel):
    """Hazards reported in the period: all of them (no department, no township), one
    department's, or one township's."""

    department: str | None = Field(None, description="The department it was last assigned to")
    township: str | None = None
    found: int = Field(..., ge=0, description="Reported in the period")
    open: int = Field(..., ge=0, description="Not assigned to a department yet")
    assigned: int = Field(..., ge=0, description="Assigned to a department")
    rectified_on_time: int = Field(..., ge=0, description="Rectified by the deadline")
    rectified_late: int = Field(..., ge=0, description="Rectified after the deadline")
    overdue: int = Field(
        ..., ge=0, description="Past the deadline and not rectified at the period's end"
    )
    verified: int = Field(..., ge=0, description="Rectification verified")


class HazardsReport(BaseModel):
    at: datetime = Field(
        ...,
        description="The moment the states are read at: the period's end, "
        "or now when that is later",
    )
    rows: list[HazardRow] = Field(
        ..., description="All first, then per department, then per township"
    )


class InspectionItemRow(BaseModel):
    item: str
    defence: str = Field(..., description="human (人防), physical (物防) or technical (技防)")
    checked: int = Field(..., ge=0)
    passed: int = Field(..., ge=0)
    pass_rate: float | None = Field(None, ge=0, le=1)


class InspectionsReport(BaseModel):
    inspections: int = Field(..., ge=0)
    schools: int = Field(..., ge=0, description="Schools inspected")
    three_defences_met: int = Field(..., ge=0, description="Inspections with every item passed")
    three_defences_rate: float | None = Field(None, ge=0, le=1)
    schools_failing: list[str] = Field(
        default_factory=list, description="Schools whose latest inspection failed an item"
    )
    items: list[InspectionItemRow]


class OutreachRow(BaseModel):
    topic: str
    sessions: int = Field(..., ge=0)
    audience: int = Field(..., ge=0)
    letters: int = Field(..., ge=0)


class OutreachReport(BaseModel):
    schools_reached: int = Field(..., ge=0, description="Schools with a session or letters")
    sessions: int = Field(..., ge=0)
    audience: int = Field(..., ge=0)
    letters: int = Field(..., ge=0)
    drills: int = Field(..., ge=0)
    drill_participants: int = Field(..., ge=0)
    by_topic: list[OutreachRow]


class PeriodSummary(BaseModel):
    """The period in the words of the bureau's own account, every number computed."""

    since: datetime | None
    until: datetime | None
    township: str | None
    school_id: str | None = None
    alarms: int = Field(..., ge=0, description="Real alarms")
    tests: int = Field(..., ge=0, description="Tests and drills")
    press_to_acknowledged_p50_s: float | None
    press_to_on_scene_p50_s: float | None
    campaigns: int
    violations: int
    schools_reached: int
    sessions: int
    letters: int
    drills: int
    inspections: int
    three_defences_rate: float | None
    guard_post_windows: int
    guard_post_staffing_rate: float | None
    school_windows: int = Field(0, ge=0, description="Schools' rush-hour windows worked out")
    visibility_rate: float | None = Field(
        None, description="Police visibility (见警率): windows with a unit near the school"
    )
    schools_covered: int
    schools: int = Field(..., description="Schools in scope: the county, township or school")
    sentence: str = Field(..., description="'N campaigns, N violations, ...'")


class WeekFigures(BaseModel):
    """One of the county's weeks (Monday to Sunday; the period's first and last weeks clipped
    to it): the figures its own report would give."""

    week: date = Field(..., description="The Monday that starts the week (county time)")
    since: datetime
    until: datetime
    alarms: int = Field(..., ge=0, description="Real alarms")
    tests: int = Field(..., ge=0, description="Tests and drills")
    press_to_acknowledged_p50_s: float | None
    press_to_acknowledged_p90_s: float | None
    press_to_on_scene_p50_s: float | None
    press_to_on_scene_p90_s: float | None
    guard_post_windows: int = Field(..., ge=0)
    guard_post_staffing_rate: float | None
    violations: int = Field(..., ge=0)
    school_windows: int = Field(0, ge=0, description="Schools' rush-hour windows worked out")
    visibility_rate: float | None = Field(None, description="Windows with a unit near")


class Trends(BaseModel):
    """A period week by week. Without `since`, the twelve weeks before `until` (default now)."""

    since: datetime
    until: datetime
    township: str | None
    school_id: str | None = None
    weeks: list[WeekFigures]


class ActivityRequest(BaseModel):
    """A supervisor records an inspection, drill, session or letters (202 once on Kafka)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    activity_id: uuid.UUID = Field(..., description="Client-generated; the same id is one record")
    school_id: str = Field(..., min_length=1, max_length=64)
    held_at: Moment
    activity: ActivityDetails
    notes: str | None = Field(None, max_length=2000)


class ActivityAccepted(BaseModel):
    activity_id: uuid.UUID
    event_id: uuid.UUID


class Overview(BaseModel):
    """Every report of one period: what the dashboard draws and the printable page lists."""

    summary: PeriodSummary
    response_times: ResponseTimes
    alarms: list[AlarmOutcomeRow]
    violations: ViolationsReport
    guard_posts: list[GuardPostRow]
    coverage: list[CoverageRow]
    inspections: InspectionsReport
    outreach: OutreachReport
    devices: DevicesReport | None = Field(
        None,
        description="Panic buttons: availability and troubles (the week before `until` "
        "when the period has no start); none where the page shows none (the summary, the "
        "dashboard)",
    )


class DeviceAvailabilityRow(BaseModel):
    """The panic buttons of one school (or township) over a period: troubles raised, and how
    long buttons were offline."""

    school_id: str | None = Field(None, description="None on a township's row")
    name: str
    township: str
    devices: int = Field(..., ge=0, description="Buttons provisioned")
    offline: int = Field(..., ge=0, description="`offline` troubles raised in the period")
    battery_low: int = Field(..., ge=0, description="`battery_low` troubles raised")
    tamper: int = Field(..., ge=0, description="`tamper` troubles raised")
    offline_hours: float = Field(..., ge=0, description="Button-hours offline in the period")
    availability: float | None = Field(
        None, ge=0, le=1, description="1 - offline time / (buttons * period); None: no buttons"
    )
    in_trouble_at_end: int = Field(
        ..., ge=0, description="Buttons with a trouble still open at the period's end"
    )


class DevicesReport(BaseModel):
    """Panic-button availability per school and township, and troubles by kind."""

    since: datetime
    until: datetime
    schools: list[DeviceAvailabilityRow]
    townships: list[DeviceAvailabilityRow]
    troubles_by_kind: dict[str, int] = Field(..., description="Troubles raised, by kind")
