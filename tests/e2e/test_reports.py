"""Reports through the real broker and database: the known period of tests/reports_fixture.py
goes in as events (the producers' topics) and as activities posted by a supervisor, the
reporting service is SIGKILLed half-way, and every figure comes out exactly, once; then the
dashboard and the printable report are opened in headless Chromium."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from shared.events import ActivityRecorded, Event
from shared.users import add_user
from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.e2e.chromium import keep_screenshot, needs_chromium
from tests.helpers import read_topic, wait_for
from tests.reports_fixture import (
    ACTIVITIES,
    ALARMS,
    CAMPAIGNS,
    CHECKINS,
    COMMUNITY_CHECKS,
    COUNTY,
    DAY,
    GATE_VISITS,
    GUARD_WINDOWS,
    HAZARDS,
    UNTIL,
    VIDEO_CHECKS,
    VIOLATIONS,
    VISIBILITY,
    VISITS,
)
from tools.stack import Stack

PASSWORD = "a-supervisor-password-for-the-test"
SEPTEMBER = {"since": DAY.isoformat(), "until": UNTIL.isoformat()}
SENTENCE = "3 campaigns, 7 violations, 3 schools, 3 sessions, 2,000 letters"
SENTENCE_ZH = "开展专项行动3次，查处违法行为7起，宣传覆盖学校3所，开展宣传3场，发放致家长信2,000份"


@pytest.fixture(scope="module")
def stack_overrides(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("reports")
    county = folder / "county.yaml"
    county.write_text(yaml.safe_dump(COUNTY.model_dump(mode="json"), allow_unicode=True))
    users = folder / "users.yaml"
    add_user(users, "li.supervisor", "supervisor", PASSWORD)
    return {"COUNTY_FILE": str(county), "USERS_FILE": str(users)}


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("reporting",)


def topic_and_key(ns: Namespace, event: Event) -> tuple[str, str]:
    """Where the producing service puts the event, and its key (DESIGN §3)."""
    topics = ns.topics
    for prefix, topic, key in (
        ("AlarmLifecycle", topics.alarms_lifecycle, "alarm_id"),
        ("ViolationRecorded", topics.patrols_violations, "unit_id"),
        ("CheckinRecorded", topics.patrols_checkins, "unit_id"),
        ("GuardPostWindow", topics.patrols_guard_posts, "post_id"),
        ("PointVisited", topics.patrols_visits, "unit_id"),
        ("CampaignOpened", topics.patrols_campaigns, "campaign_id"),
        ("HazardChanged", topics.patrols_hazards, "hazard_id"),
        ("VideoCheckRecorded", topics.patrols_video_checks, "check_id"),
        ("CommunityCheckRecorded", topics.patrols_community_checks, "check_id"),
        ("GateVisitChanged", topics.patrols_gate_visits, "visit_id"),
        ("SchoolWindowPatrolled", topics.patrols_visibility, "window_start"),
    ):
        if type(event).__name__ == prefix:
            return topic, str(getattr(event, key))
    raise AssertionError(type(event))


async def produce(ns: Namespace, events: list[Event]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all")
    await producer.start()
    try:
        for event in events:
            topic, key = topic_and_key(ns, event)
            await producer.send_and_wait(topic, event.model_dump_json().encode(), key=key.encode())
    finally:
        await producer.stop()


def request_of(event: Event) -> dict[str, Any]:
    assert isinstance(event, ActivityRecorded)
    body = json.loads(event.model_dump_json(include={"activity_id", "school_id", "held_at"}))
    return body | {"activity": json.loads(event.activity.model_dump_json())}


async def test_every_figure_arrives_exactly_once_across_a_kill(
    stack: Stack, e2e_namespace: Namespace
) -> None:
    ns = e2e_namespace
    reporting = stack["reporting"]
    chief = ns.auth("supervisor", "li.supervisor")
    flowing = (
        ALARMS
        + CAMPAIGNS
        + VIOLATIONS
        + CHECKINS
        + VISITS
        + GUARD_WINDOWS
        + HAZARDS
        + VIDEO_CHECKS
        + COMMUNITY_CHECKS
        + GATE_VISITS
        + VISIBILITY
    )
    half = len(flowing) // 2
    await produce(ns, flowing[:half])
    async with httpx.AsyncClient(timeout=15) as client:
        first = request_of(ACTIVITIES[0])
        accepted = await client.post(f"{reporting.url}/v1/activities", json=first, headers=chief)
        assert accepted.status_code == 202, accepted.text

        reporting.kill()  # SIGKILL mid-stream: some events folded, maybe not yet committed
        await produce(ns, flowing[half:])
        poison = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all")
        await poison.start()
        await poison.send_and_wait(ns.topics.patrols_violations, b'{"kind": "speeding"}', key=b"x")
        await poison.stop()
        reporting.start()
        await asyncio.to_thread(reporting.wait_ready)

        for event in ACTIVITIES:  # the first again: a retried POST is stored once
            posted = await client.post(
                f"{reporting.url}/v1/activities", json=request_of(event), headers=chief
            )
            assert posted.status_code == 202, posted.text
        unknown = request_of(ACTIVITIES[1]) | {"school_id": "S404"}
        refused = await client.post(f"{reporting.url}/v1/activities", json=unknown, headers=chief)
        assert refused.status_code == 422 and "school_id" in refused.text

        async def summary() -> dict[str, Any] | None:
            got = await client.get(
                f"{reporting.url}/v1/reports/summary", params=SEPTEMBER, headers=chief
            )
            body: dict[str, Any] = got.json()
            done = body["sentence"] == SENTENCE and body["inspections"] == 3
            done = done and body["drills"] == 1  # the last activity posted, counted
            return body if done and body["guard_post_windows"] == 5 else None

        figures = await wait_for(summary, timeout_s=60, interval_s=0.5)
        assert (figures["alarms"], figures["tests"], figures["drills"]) == (3, 1, 1)
        assert figures["press_to_acknowledged_p50_s"] == 10.0
        assert figures["guard_post_staffing_rate"] == 0.6
        assert figures["three_defences_rate"] == 0.3333
        assert (figures["schools_covered"], figures["schools"]) == (2, 3)

        csv = await client.get(
            f"{reporting.url}/v1/reports/violations",
            params=SEPTEMBER | {"format": "csv"},
            headers=chief,
        )
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines() == [
            "专项行动编号,专项行动,类别,违法行为",
            "-,（无专项行动）,其他,1",
            "C1,上下学专项整治,违法停车,1",
            "C1,上下学专项整治,超速,3",
            "C2,黑车整治,超员,2",
        ]
        english = await client.get(
            f"{reporting.url}/v1/reports/violations",
            params=SEPTEMBER | {"format": "csv", "lang": "en"},
            headers=chief,
        )
        assert english.text.splitlines()[:2] == [
            "Campaign ID,Campaign,Kind,Violations",
            "-,(no campaign),Other,1",
        ]
        times = await client.get(
            f"{reporting.url}/v1/reports/response-times", params=SEPTEMBER, headers=chief
        )
        ack = times.json()["intervals"][0]
        assert (ack["alarms"], ack["p50_s"], ack["p90_s"], ack["max_s"]) == (2, 10.0, 30.0, 30.0)
        hazard_rows = [
            "责任部门,乡镇,发现隐患,待交办,已交办,按期整改,逾期整改,超期未改,已验收",
            ",,5,1,4,1,1,1,1",
            "消防救援,,1,0,1,0,0,0,0",
            "卫生健康,,1,0,1,0,0,1,0",
            "市场监管,,1,0,1,1,0,0,1",
            "交警,,1,0,1,0,1,0,0",
            ",T1,3,0,3,1,1,0,1",
            ",T2,2,1,1,0,0,1,0",
        ]

        async def hazards() -> list[str] | None:
            got = await client.get(
                f"{reporting.url}/v1/reports/hazards",
                params=SEPTEMBER | {"format": "csv"},
                headers=chief,
            )
            return got.text.splitlines() if got.text.splitlines() == hazard_rows else None

        await wait_for(hazards, timeout_s=30, interval_s=0.5)  # each change once, across the kill

        async def bulletin() -> dict[str, Any] | None:
            got = await client.get(
                f"{reporting.url}/v1/reports/video-checks", params=SEPTEMBER, headers=chief
            )
            body: dict[str, Any] = got.json()
            return body if body["checks"] == 5 else None

        checks = await wait_for(bulletin, timeout_s=30, interval_s=0.5)
        assert (checks["disagreements"], checks["officer_absent"], len(checks["rows"])) == (1, 1, 5)
        printed = await client.get(
            f"{reporting.url}/v1/reports/video-bulletin", params=SEPTEMBER, headers=chief
        )
        assert "视频巡查5次" in printed.text and "视频与定位不符1次" in printed.text

        async def community() -> list[str] | None:
            got = await client.get(
                f"{reporting.url}/v1/reports/community-checks",
                params=SEPTEMBER | {"format": "csv", "lang": "en"},
                headers=chief,
            )
            lines = got.text.splitlines()
            return lines if lines[1:2] == [",4,3,1,11,4,5,3,4,2"] else None

        community_rows = await wait_for(community, timeout_s=30, interval_s=0.5)
        assert community_rows[0].startswith("Township,Checks,Rental housing,Hotels,")
        assert community_rows[2:] == ["T1,3,2,1,10,3,4,3,3,1", "T2,1,1,0,1,1,1,0,1,1"]

        async def visitors() -> list[str] | None:
            got = await client.get(
                f"{reporting.url}/v1/reports/gate-visits",
                params=SEPTEMBER | {"format": "csv"},
                headers=chief,
            )
            lines = got.text.splitlines()
            return lines if lines[1:2] == [",,,5,2,3,30.0"] else None

        visitor_rows = await wait_for(visitors, timeout_s=30, interval_s=0.5)
        assert visitor_rows[2:] == [
            "S1,一小,T1,3,0,1,30.0",
            "S2,二中,T1,1,1,1,",
            "S3,三幼,T2,1,1,1,",
        ]

        async def visibility() -> list[str] | None:
            got = await client.get(
                f"{reporting.url}/v1/reports/visibility",
                params=SEPTEMBER | {"format": "csv"},
                headers=chief,
            )
            lines = got.text.splitlines()
            return lines if lines[1:2] == [",,,5,3,0.6,85,0.3148,1,1,2"] else None

        seen_rows = await wait_for(visibility, timeout_s=30, interval_s=0.5)
        assert seen_rows[0] == (
            "乡镇,学校编号,学校,高峰时段（校次）,见警,见警率,在场分钟,在场率,车巡,步巡,特巡警"
        )
        activities = await client.get(f"{reporting.url}/v1/activities", headers=chief)
        assert len(activities.json()) == len(ACTIVITIES)

    dead = await read_topic(KAFKA_BOOTSTRAP, ns.topics.dlq(ns.topics.patrols_violations))
    assert len(dead) == 1 and dead[0]["service"] == "reporting"
    assert "violation_id: Field required" in dead[0]["error"]


def bar(browser: WebDriver, chart: str, key: str) -> tuple[str, str, str]:
    """A bar's value, the label shown beside it, and the text written after it."""
    element = browser.find_element(By.CSS_SELECTOR, f'#{chart} g.bar[data-label="{key}"]')
    value = element.get_attribute("data-value") or ""
    texts = element.find_elements(By.CSS_SELECTOR, "text")
    return value, texts[0].text, texts[-1].text


@needs_chromium
def test_the_dashboard_draws_the_figures_and_the_report_prints_them(
    stack: Stack, browser: WebDriver
) -> None:
    """Runs after the figures are in (the test above waits for them)."""
    url = stack["reporting"].url
    wait = WebDriverWait(browser, 20, poll_frequency=0.1)
    query = httpx.QueryParams(SEPTEMBER)
    browser.get(f"{url}/dashboard?{query}")
    wait.until(ec.visibility_of_element_located((By.ID, "username")))
    browser.find_element(By.ID, "username").send_keys("li.supervisor")
    browser.find_element(By.ID, "password").send_keys("wrong")
    browser.find_element(By.ID, "go").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "signin-error"), "用户名或密码错误"))
    browser.find_element(By.ID, "password").clear()
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "go").click()

    wait.until(ec.text_to_be_present_in_element((By.ID, "sentence"), SENTENCE_ZH))
    assert bar(browser, "chart-violations", "speeding") == ("3", "超速", "3")
    assert bar(browser, "chart-violations", "overloading") == ("2", "超员", "2")
    assert bar(browser, "chart-response", "acknowledged") == ("10", "报警至接警", "10秒")
    assert bar(browser, "chart-guard-posts", "morning") == ("0.5", "早高峰", "50.0%，共4岗次")
    assert bar(browser, "chart-inspections", "cctv") == ("0.6667", "视频监控", "66.7%")
    assert bar(browser, "chart-outreach", "traffic_safety") == ("2", "交通安全", "2")
    drawn = browser.find_element(
        By.CSS_SELECTOR, '#chart-violations g.bar[data-label="speeding"] rect'
    )
    assert float(drawn.get_attribute("width") or 0) > 0
    assert browser.find_element(By.ID, "tile-letters").text.split() == ["致家长信", "2,000"]
    assert browser.find_element(By.ID, "tile-visibility").text.split() == ["高峰见警率", "60.0%"]
    seen = browser.find_elements(
        By.CSS_SELECTOR, '#trend-visibility circle[data-series="visibility_rate"]'
    )
    assert [p.get_attribute("data-value") for p in seen][:2] == ["0.6667", "0.5"]
    assert browser.find_element(By.ID, "show").text == "查询"
    assert browser.execute_script("return document.documentElement.lang") == "zh-CN"
    # the county's time: the period began at midnight UTC, 08:00 in Asia/Shanghai
    assert browser.find_element(By.CSS_SELECTOR, "p.period").text.startswith("2026-09-01 08:00至")
    points = browser.find_elements(By.CSS_SELECTOR, '#trend-alarms circle[data-series="alarms"]')
    assert len(points) == 5, "September's five weeks, the first and last clipped"
    assert sum(int(p.get_attribute("data-value") or 0) for p in points) == 3
    line = browser.find_element(By.CSS_SELECTOR, "#trend-alarms polyline")
    assert len((line.get_attribute("points") or "").split()) == 5, "a trend line is drawn"
    alarms_heading = browser.find_element(By.CSS_SELECTOR, '#t-side th[data-column="alarms"]')
    alarms_heading.click()  # most alarms first
    first = browser.find_element(By.CSS_SELECTOR, "#t-side tbody tr td").text
    alarms_heading.click()  # then fewest first
    assert browser.find_element(By.CSS_SELECTOR, "#t-side tbody tr td").text != first
    assert browser.find_elements(By.CSS_SELECTOR, "#alarm-map circle.hot")
    keep_screenshot(browser, "dashboard-zh")
    browser.execute_script("document.getElementById('trend-alarms').scrollIntoView()")
    keep_screenshot(browser, "dashboard-trends-zh")

    browser.get(f"{url}/report?{query}")  # the token is kept for the session
    wait.until(ec.presence_of_element_located((By.ID, "t-violations")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#t-guard-posts tbody tr")
    assert [r.text.split()[:6] for r in rows] == [
        ["一小", "早高峰", "4", "2", "1", "1"],
        ["二中", "午高峰", "1", "1", "0", "0"],
    ]
    assert SENTENCE_ZH in browser.find_element(By.ID, "sentence").text
    keep_screenshot(browser, "report-zh")

    Select(browser.find_element(By.ID, "lang")).select_by_value("en")  # the choice is kept
    wait.until(ec.text_to_be_present_in_element((By.ID, "sentence"), SENTENCE))
    assert browser.find_element(By.ID, "print").text == "Print"
    rows = browser.find_elements(By.CSS_SELECTOR, "#t-guard-posts tbody tr")
    assert rows[0].text.split()[:2] == ["一小", "Morning"]
    keep_screenshot(browser, "report-en")
    browser.get(f"{url}/bulletin?{query}")  # the video check bulletin, in the choice kept
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#video-checks tbody tr")))
    assert "5 video checks" in browser.find_element(By.ID, "sentence").text
    assert browser.find_element(By.ID, "title").text == "video check bulletin"
    cells = browser.find_elements(By.CSS_SELECTOR, "#video-checks tbody tr:nth-child(3) td")
    assert [c.text for c in cells][5:8] == ["No", "Yes", "Congested"], "the flagged check"
    keep_screenshot(browser, "bulletin-en")
    browser.get(f"{url}/dashboard?{query}")
    wait.until(ec.text_to_be_present_in_element((By.ID, "sentence"), SENTENCE))
    assert bar(browser, "chart-response", "acknowledged") == (
        "10",
        "Press to acknowledged",
        "10 s",
    )
    keep_screenshot(browser, "dashboard-en")
