"""Every report figure for a known period, worked out by hand (tests/reports_fixture.py);
a replay in another order with duplicates gives the same figures; drills never count."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.reporting import exports, pages, service
from services.reporting.models import Overview
from services.reporting.service import Deps, Scope
from shared.labels import Words
from shared.topics import Topics
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.reporting import InMemoryReportingRepository
from tests.reports_fixture import COUNTY, DAY, EVERYTHING, UNTIL, fed

SEPTEMBER = Scope(since=DAY, until=UNTIL)


async def overview_of(events: list, scope: Scope = SEPTEMBER) -> Overview:  # type: ignore[type-arg]
    return await service.overview(deps=await fed(events), scope=scope)


async def test_response_times_and_alarm_outcomes_leave_the_drill_out() -> None:
    report = await overview_of(EVERYTHING)
    rows = {r.interval: r for r in report.response_times.intervals}
    ack = rows["press_to_acknowledged"]
    assert (ack.alarms, ack.missing, ack.p50_s, ack.p90_s, ack.p99_s, ack.max_s) == (
        2,
        1,
        10.0,
        30.0,
        30.0,
        30.0,
    )
    assert (rows["press_to_on_scene"].alarms, rows["press_to_on_scene"].p50_s) == (1, 240.0)
    assert (rows["press_to_resolved"].missing, rows["press_to_resolved"].max_s) == (2, 900.0)
    assert report.response_times.tests_excluded == 1
    assert [(r.kind, r.outcome, r.alarms, r.tests) for r in report.alarms] == [
        ("fire", "open", 1, 0),
        ("fire", "resolved:handled", 1, 1),
        ("intrusion", "cancelled:false_alarm", 1, 0),
    ]


async def test_violations_by_kind_and_campaign_in_the_period_only() -> None:
    found = (await overview_of(EVERYTHING)).violations
    assert (found.total, found.campaigns) == (7, 3)
    assert [(c.campaign_id, c.violations) for c in found.held] == [("C1", 4), ("C2", 2), ("C3", 0)]
    assert found.by_kind == {"illegal_parking": 1, "other": 1, "overloading": 2, "speeding": 3}
    assert [(r.campaign_id, r.kind, r.violations) for r in found.rows] == [
        ("-", "other", 1),
        ("C1", "illegal_parking", 1),
        ("C1", "speeding", 3),
        ("C2", "overloading", 2),
    ]
    everything = (await overview_of(EVERYTHING, Scope())).violations
    assert (everything.total, everything.campaigns) == (8, 4)


async def test_guard_post_staffing_rate_and_gaps_per_school_and_window() -> None:
    posts = (await overview_of(EVERYTHING)).guard_posts
    assert [
        (r.school_id, r.window, r.windows, r.staffed, r.late, r.empty, r.staffing_rate, r.gap_days)
        for r in posts
    ] == [
        ("S1", "morning", 4, 2, 1, 1, 0.5, ["2026-09-03"]),
        ("S2", "noon", 1, 1, 0, 0, 1.0, []),
    ]


async def test_patrol_coverage_from_check_ins_and_visits_leaves_flagged_check_ins_out() -> None:
    rows = (await overview_of(EVERYTHING)).coverage
    assert [
        (r.school_id, r.points, r.points_visited, r.checkins, r.flagged, r.visits, r.dwell_s)
        for r in rows
    ] == [
        ("S1", 2, 2, 2, 1, 1, 120.0),
        ("S2", 1, 0, 0, 1, 0, 0.0),
        ("S3", 1, 1, 2, 0, 1, 600.0),
    ]
    assert [(r.days_visited, r.covered) for r in rows] == [(2, True), (0, False), (2, True)]
    deps = await fed(EVERYTHING)
    must_reach = await service.coverage(deps=deps, scope=Scope(kind="must_reach"))
    s1 = must_reach[0]
    assert (s1.points, s1.points_visited, s1.checkins, s1.flagged, s1.covered) == (1, 1, 1, 1, True)
    assert (s1.visits, s1.dwell_s) == (1, 120.0)
    stops = await service.coverage(deps=deps, scope=Scope(kind="stop"))
    assert [(r.school_id, r.points, r.points_visited, r.visits) for r in stops] == [
        ("S1", 1, 1, 0),
        ("S2", 0, 0, 0),
        ("S3", 0, 0, 0),
    ]


async def test_inspections_compute_the_three_defences_and_the_pass_rates() -> None:
    checked = (await overview_of(EVERYTHING)).inspections
    assert (checked.inspections, checked.schools, checked.three_defences_met) == (3, 2, 1)
    assert checked.three_defences_rate == 0.3333
    assert checked.schools_failing == ["S1", "S2"]  # S1's latest inspection failed "guards"
    assert [(r.item, r.defence, r.checked, r.passed, r.pass_rate) for r in checked.items] == [
        ("guards", "human", 3, 2, 0.6667),
        ("visitor_registration", "human", 3, 3, 1.0),
        ("fire_safety", "physical", 3, 3, 1.0),
        ("evacuation_routes", "physical", 3, 3, 1.0),
        ("alarm_buttons", "technical", 3, 3, 1.0),
        ("cctv", "technical", 3, 2, 0.6667),
    ]


async def test_outreach_totals_per_topic_and_schools_reached() -> None:
    reached = (await overview_of(EVERYTHING)).outreach
    assert (reached.schools_reached, reached.sessions, reached.audience, reached.letters) == (
        3,
        3,
        500,
        2000,
    )
    assert (reached.drills, reached.drill_participants) == (1, 400)
    assert [(r.topic, r.sessions, r.audience, r.letters) for r in reached.by_topic] == [
        ("legal_education", 1, 300, 500),
        ("traffic_safety", 2, 200, 1500),
    ]


async def test_the_period_summary_in_the_words_of_the_bureau() -> None:
    summary = (await overview_of(EVERYTHING)).summary
    assert summary.sentence == "3 campaigns, 7 violations, 3 schools, 3 sessions, 2,000 letters"
    assert (summary.alarms, summary.tests, summary.press_to_acknowledged_p50_s) == (3, 1, 10.0)
    assert (summary.press_to_on_scene_p50_s, summary.drills, summary.inspections) == (240.0, 1, 3)
    assert (summary.guard_post_windows, summary.guard_post_staffing_rate) == (5, 0.6)
    assert (summary.schools_covered, summary.schools, summary.three_defences_rate) == (2, 3, 0.3333)


async def test_a_township_keeps_only_its_schools() -> None:
    t1 = await overview_of(EVERYTHING, Scope(since=DAY, until=UNTIL, township="T1"))
    assert t1.violations.total == 4  # S1 and S2's; the one near no school is left out
    assert [r.school_id for r in t1.coverage] == ["S1", "S2"]
    assert t1.summary.sentence == "2 campaigns, 4 violations, 2 schools, 2 sessions, 2,000 letters"
    assert t1.summary.alarms == 2 and t1.summary.schools == 2
    s3 = await overview_of(EVERYTHING, Scope(since=DAY, until=UNTIL, school_id="S3"))
    assert s3.summary.sentence == "2 campaigns, 2 violations, 1 school, 1 session, 0 letters"
    assert [r.kind for r in s3.alarms] == ["intrusion"] and s3.summary.schools == 1


async def test_a_replay_in_another_order_with_duplicates_gives_the_same_figures() -> None:
    once = await overview_of(EVERYTHING)
    replayed = await overview_of(list(reversed(EVERYTHING)) + EVERYTHING)
    assert replayed == once


async def test_unknown_township_school_and_an_empty_period_are_refused() -> None:
    deps = Deps(
        publisher=RecordingPublisher(),
        topics=Topics(),
        repo=InMemoryReportingRepository(),
        county=COUNTY,
    )
    for scope, words in (
        (Scope(township="Atlantis"), "unknown township"),
        (Scope(school_id="S9"), "unknown school"),
        (Scope(since=DAY, until=DAY), "before"),
    ):
        try:
            await service.overview(deps=deps, scope=scope)
        except ValueError as exc:
            assert words in str(exc)
        else:
            raise AssertionError(f"{scope} was answered")


async def test_csv_rows_name_their_columns() -> None:
    report = await overview_of(EVERYTHING)
    lines = exports.to_csv(type(report.guard_posts[0]), report.guard_posts).splitlines()
    assert lines[0].startswith("学校编号,名称,乡镇,时段,岗次,按时到岗,迟到,空岗,到岗率")
    assert lines[1] == "S1,一小,T1,早高峰,4,2,1,1,0.5,2026-09-03"
    english = exports.to_csv(type(report.guard_posts[0]), report.guard_posts, lang="en")
    assert english.splitlines()[1] == "S1,一小,T1,Morning,4,2,1,1,0.5,2026-09-03"
    covered = exports.to_csv(type(report.coverage[0]), report.coverage).splitlines()
    assert covered[1].endswith(",是") or covered[1].endswith(",否")


async def test_the_dashboard_draws_the_figures_and_escapes_every_name() -> None:
    report = await overview_of(EVERYTHING)
    html = pages.dashboard(report)
    assert '<g class="bar" data-label="speeding" data-value="3">' in html
    assert 'data-label="acknowledged" data-value="10"' in html
    assert 'data-label="morning" data-value="0.5"' in html
    assert (
        "开展专项行动3次，查处违法行为7起，宣传覆盖学校3所，开展宣传3场，发放致家长信2,000份"
        in html
    )
    assert 'text-anchor="end">超速</text>' in html, "labels, not keys"
    assert '<p class="period">2026-09-01至2026-09-30</p>' in html, "the last day, not the bound"
    shanghai = pages.dashboard(report, zone=ZoneInfo("Asia/Shanghai"))
    assert '<p class="period">2026-09-01 08:00至2026-10-01 08:00</p>' in shanghai
    assert 'id="trends-note"' in html, "where the trends are, when not shown"
    english = pages.dashboard(report, words=Words("en"))
    assert "3 campaigns, 7 violations, 3 schools, 3 sessions, 2,000 letters" in english
    assert ">Speeding</text>" in english
    hostile = report.model_copy(
        update={"summary": report.summary.model_copy(update={"township": "<script>x</script>"})}
    )
    assert "<script>" not in pages.dashboard(hostile)
    assert "&lt;script&gt;" in pages.printable(hostile)


async def test_a_scope_of_more_schools_than_pages_allow_prints_its_townships() -> None:
    report = await overview_of(EVERYTHING)
    assert not pages.by_township(report), "the fixture's county prints its schools"
    many = pages.PRINTED_SCHOOLS_MAX + 1
    province = report.model_copy(
        update={"summary": report.summary.model_copy(update={"schools": many})}
    )
    html = pages.printable(province)

    def table(table_id: str) -> str:
        start = html.index(f'<table id="{table_id}">')
        return html[start : html.index("</table>", start)]

    guard = table("t-guard-posts")
    assert "护学岗（按乡镇）" in guard and "<th>乡镇</th>" in guard
    t1_morning = [r for r in report.guard_posts if (r.township, r.window) == ("T1", "morning")]
    windows = sum(r.windows for r in t1_morning)
    staffed = sum(r.staffed for r in t1_morning)
    assert f"<tr><td>T1</td><td>早高峰</td><td>{windows}</td><td>{staffed}</td>" in guard
    coverage = table("t-coverage")
    t1 = [r for r in report.coverage if r.township == "T1"]
    covered = sum(r.covered for r in t1)
    assert f"<tr><td>T1</td><td>{len(t1)}</td><td>{covered}</td>" in coverage
    for school in COUNTY.schools:
        assert f"<td>{school.name}</td>" not in guard + coverage, "no school rows"


async def test_no_csv_of_any_report_shows_a_key_where_a_label_exists() -> None:
    import csv
    import io

    from services.reporting.api import REPORTS
    from shared.labels import CATALOGUE, LANGS

    deps = await fed(EVERYTHING)
    for report in REPORTS.values():
        result = await report.compute(deps=deps, scope=SEPTEMBER)
        rows = report.rows.of(result)
        assert rows, report.name
        for i, lang in enumerate(LANGS):
            keys = {k for words in CATALOGUE.values() for k, pair in words.items() if pair[i] != k}
            text = exports.to_csv(report.rows.model, rows, lang=lang, zone=COUNTY.zone)
            cells = [cell for line in csv.reader(io.StringIO(text)) for cell in line]
            shown = {part for cell in cells for part in cell.split(";")}
            assert not shown & keys, (report.name, lang, shown & keys)


async def test_no_page_shows_a_key_where_a_label_exists() -> None:
    import re
    from html import unescape

    from shared.labels import CATALOGUE, LANGS

    report = await overview_of(EVERYTHING)
    for i, lang in enumerate(LANGS):
        words = Words(lang)
        keys = {k for vocab in CATALOGUE.values() for k, pair in vocab.items() if pair[i] != k}
        for page in (pages.dashboard(report, words=words), pages.printable(report, words=words)):
            shown = {unescape(t).strip() for t in re.findall(r">([^<>]+)<", page)}
            assert shown, "the page shows text"
            assert not shown & keys, (lang, shown & keys)


async def test_the_dashboard_shows_the_weeks_the_townships_side_by_side_and_a_map() -> None:
    deps = await fed(EVERYTHING)
    report = await service.overview(deps=deps, scope=SEPTEMBER)
    trend = await service.trends(deps=deps, scope=SEPTEMBER)
    alarms = await service.alarms_by_school(deps=deps, since=DAY, until=UNTIL, township=None)
    around = pages.Around(trend=trend, schools=COUNTY.schools, alarms=alarms)
    html = pages.dashboard(report, around=around)
    for chart in ("trend-alarms", "trend-response", "trend-staffing", "trend-violations"):
        assert f'id="{chart}"' in html, chart
    weekly = {w.week.isoformat(): w for w in trend.weeks}
    for week, figures in weekly.items():
        point = f'data-series="alarms" data-week="{week}" data-value="{figures.alarms}"'
        assert point in html, week
    assert "每周真实报警（5周）" in html
    table = html[html.index('<table id="t-side"') : html.index("</table>", html.index("t-side"))]
    assert "<th" in table and ">乡镇</th>" in table, "townships side by side for a county"
    t1 = [a for a in alarms if a.township == "T1"]
    assert '<td data-value="T1">T1</td><td data-value="2">2</td>' in table
    assert f'<td data-value="{sum(a.alarms for a in t1)}">' in table
    for school in COUNTY.schools:
        count = sum(a.alarms for a in alarms if a.school_id == school.school_id)
        assert f'data-school="{school.school_id}" data-alarms="{count}"' in html
    one = pages.dashboard(
        report,
        around=pages.Around(trend=trend, schools=COUNTY.schools[:2], alarms=alarms),
        words=Words("en"),
    )
    assert ">School</th>" in one and '<td data-value="一小">一小</td>' in one, "schools"


async def test_police_visibility_overall_by_township_and_school_and_week_by_week() -> None:
    deps = await fed(EVERYTHING)
    report = await service.visibility(deps=deps, scope=SEPTEMBER)
    figures = [
        (
            r.township,
            r.school_id,
            r.school_windows,
            r.seen,
            r.visibility_rate,
            r.minutes_present,
            r.presence_rate,
            r.vehicle,
            r.foot,
            r.special,
        )
        for r in report.rows
    ]
    assert figures == [
        (None, None, 5, 3, 0.6, 85, 0.3148, 1, 1, 2),  # August's window is not counted
        ("T1", None, 3, 2, 0.6667, 80, 0.5, 1, 1, 1),
        ("T2", None, 2, 1, 0.5, 5, 0.0455, 0, 0, 1),
        ("T1", "S1", 2, 1, 0.5, 20, 0.2, 1, 0, 0),
        ("T1", "S2", 1, 1, 1.0, 60, 1.0, 0, 1, 1),
        ("T2", "S3", 2, 1, 0.5, 5, 0.0455, 0, 0, 1),
    ]
    mornings = await service.visibility(
        deps=deps, scope=Scope(since=DAY, until=UNTIL, kind="morning")
    )
    assert (mornings.rows[0].school_windows, mornings.rows[0].seen) == (3, 2)
    weeks = await service.trends(deps=deps, scope=SEPTEMBER)
    by_week = [(w.week.isoformat(), w.school_windows, w.visibility_rate) for w in weeks.weeks]
    assert by_week[:2] == [("2026-08-31", 3, 0.6667), ("2026-09-07", 2, 0.5)]
    assert all(n == 0 and r is None for _, n, r in by_week[2:])
    summary = (await overview_of(EVERYTHING, SEPTEMBER)).summary
    assert (summary.school_windows, summary.visibility_rate) == (5, 0.6)


async def test_gate_visits_count_each_as_it_stood_at_the_periods_end_per_school() -> None:
    deps = await fed(EVERYTHING)
    report = await service.gate_visits(deps=deps, scope=SEPTEMBER)
    assert report.at == UNTIL
    figures = [
        (r.school_id, r.visitors, r.still_inside, r.after_hours, r.stay_p50_min)
        for r in report.rows
    ]
    assert figures == [
        (None, 5, 2, 3, 30.0),  # stays 10, 30, 330 min; S3's visitor leaves in October
        ("S1", 3, 0, 1, 30.0),
        ("S2", 1, 1, 1, None),
        ("S3", 1, 1, 1, None),
    ]
    later = await service.gate_visits(
        deps=deps, scope=Scope(since=DAY, until=UNTIL + timedelta(days=2))
    )
    assert [(r.school_id, r.still_inside) for r in later.rows][-1] == ("S3", 0)
    parents = await service.gate_visits(
        deps=deps, scope=Scope(since=DAY, until=UNTIL, kind="parent")
    )
    assert [(r.school_id, r.visitors) for r in parents.rows] == [(None, 1), ("S1", 1)]


async def test_community_checks_count_people_and_issues_overall_and_by_township() -> None:
    deps = await fed(EVERYTHING)
    report = await service.community_checks(deps=deps, scope=SEPTEMBER)
    figures = [
        (
            r.township,
            r.checks,
            r.rental_housing,
            r.hotels,
            r.people,
            r.unregistered,
            r.newly_arrived,
            r.items_failed,
            r.issues,
            r.hazards,
        )
        for r in report.rows
    ]
    assert figures == [
        (None, 4, 3, 1, 11, 4, 5, 3, 4, 2),  # the fifth check is August's
        ("T1", 3, 2, 1, 10, 3, 4, 3, 3, 1),
        ("T2", 1, 1, 0, 1, 1, 1, 0, 1, 1),
    ]
    hotels = await service.community_checks(
        deps=deps, scope=Scope(since=DAY, until=UNTIL, kind="hotel")
    )
    assert [(r.township, r.checks, r.people) for r in hotels.rows] == [(None, 1, 5), ("T1", 1, 5)]


async def test_hazards_count_each_as_it_stood_at_the_periods_end_by_department_and_township() -> (
    None
):
    deps = await fed(EVERYTHING)
    report = await service.hazards(deps=deps, scope=SEPTEMBER)
    assert report.at == UNTIL
    figures = [
        (
            r.department,
            r.township,
            r.found,
            r.open,
            r.assigned,
            r.rectified_on_time,
            r.rectified_late,
            r.overdue,
            r.verified,
        )
        for r in report.rows
    ]
    assert figures == [
        (None, None, 5, 1, 4, 1, 1, 1, 1),  # H6 is August's; H4's assignment comes in October
        ("fire_rescue", None, 1, 0, 1, 0, 0, 0, 0),
        ("health", None, 1, 0, 1, 0, 0, 1, 0),
        ("market_regulation", None, 1, 0, 1, 1, 0, 0, 1),
        ("traffic_police", None, 1, 0, 1, 0, 1, 0, 0),
        (None, "T1", 3, 0, 3, 1, 1, 0, 1),
        (None, "T2", 2, 1, 1, 0, 0, 1, 0),
    ]
    early = await service.hazards(deps=deps, scope=Scope(since=DAY, until=DAY + timedelta(days=11)))
    total = early.rows[0]  # on the 12th, 00:00: H2 is past its deadline, H3 not yet
    assert (total.found, total.rectified_on_time, total.overdue, total.verified) == (3, 1, 1, 1)
    t2 = await service.hazards(deps=deps, scope=Scope(since=DAY, until=UNTIL, township="T2"))
    assert [(r.department, r.township, r.found) for r in t2.rows] == [
        (None, None, 2),
        ("health", None, 1),
        (None, "T2", 2),
    ]
    fires = await service.hazards(
        deps=deps, scope=Scope(since=DAY, until=UNTIL, kind="fire_safety")
    )
    assert fires.rows[0].found == 1


async def test_the_video_bulletin_sets_each_check_beside_the_posts_gps_verdict() -> None:
    deps = await fed(EVERYTHING)
    bulletin = await service.video_checks(deps=deps, scope=SEPTEMBER)
    counts = (
        bulletin.checks,
        bulletin.officer_absent,
        bulletin.congested,
        bulletin.blocked,
        bulletin.patrol_seen,
        bulletin.disagreements,
    )
    assert counts == (5, 1, 2, 1, 2, 1)  # August's check is not September's
    rows = [
        (r.school_name, r.post_id, r.officer_on_post, r.gps_on_post, r.disagrees)
        for r in bulletin.rows
    ]
    assert rows == [
        ("一小", "S1-gate", True, True, False),  # staffed
        ("二中", None, None, None, False),
        ("一小", "S1-gate", True, False, True),  # late: the GPS had not seen the unit yet
        ("一小", "S1-gate", False, False, False),  # empty
        ("三幼", None, None, None, False),
    ]
    local = datetime(2026, 9, 2, tzinfo=COUNTY.zone)  # the county's day: the bulletin's
    day_two = Scope(since=local, until=local + timedelta(days=1), township="T1")
    one_day = await service.video_checks(deps=deps, scope=day_two)
    assert [(r.at, r.disagrees) for r in one_day.rows] == [(bulletin.rows[2].at, True)]
    page = pages.bulletin(one_day, day_two, places=("T1",), words=Words("zh"), zone=COUNTY.zone)
    assert "视频巡查通报 2026-09-02 · T1" in page and "视频与定位不符1次" in page
    assert "拥堵" in page and "congested" not in page
