"""The dispatcher console in headless Chromium (Debian's chromium and chromium-driver, installed
by `make test`): sign in, see a press appear without reloading, acknowledge it, see its state
change, and see the school on the map."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from shared.events import (
    GuardPostWindow,
    PlanContact,
    PlanContent,
    PositionReported,
    SchoolPlanChanged,
)
from shared.provisioning import load_county
from shared.settings import ROOT
from shared.users import add_user
from tests.conftest import KAFKA_BOOTSTRAP, Namespace
from tests.e2e.chromium import keep_screenshot, needs_chromium, sign_in, wait
from tests.helpers import (
    heartbeat_body,
    post_heartbeat,
    post_press,
    press_body,
    put_on_topic,
    read_topic,
    wait_for,
)
from tools.stack import Stack

Client = AsyncMongoClient[dict[str, object]]
PASSWORD = "a-dispatcher-password-for-the-test"
COUNTY = load_county(ROOT / "deploy" / "county.yaml")

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.yaml"
    add_user(path, "wang.dispatcher", "dispatcher", PASSWORD)
    add_user(path, "li.supervisor", "supervisor", PASSWORD + "-2")
    return path


@pytest.fixture(scope="module")
def stack_overrides(users_file: Path) -> dict[str, str]:
    return {"USERS_FILE": str(users_file)}


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return ("alarms", "notifications")


async def test_sign_in_see_a_press_live_acknowledge_it_and_see_it_change(
    stack: Stack, e2e_namespace: Namespace, browser: WebDriver, mongo: Client
) -> None:
    ns = e2e_namespace
    url = stack["notifications"].url
    plan = SchoolPlanChanged(
        school_id="S030",
        version=3,
        plan=PlanContent(
            risks=["紧邻国道"],
            contacts=[PlanContact(role="保卫干部", name="马老师", phone="0943-5551234")],
            gate_notes="南门常闭，钥匙在门卫室",
        ),
        edited_by="li.supervisor",
    )
    await put_on_topic(KAFKA_BOOTSTRAP, ns.topics.patrols_school_plans, "S030", plan)
    sign_in(browser, url, "wang.dispatcher", "not the password")
    wait(browser).until(
        ec.text_to_be_present_in_element((By.ID, "signin-error"), "用户名或密码错误")
    )

    browser.find_element(By.ID, "password").clear()
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "go").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "status"), "实时"))
    assert "wang.dispatcher · 调度员" in browser.find_element(By.ID, "who").text
    wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#map path.school"))
    townships = browser.find_elements(By.CSS_SELECTOR, "#map path.township")
    assert len(townships) == len({s.township for s in COUNTY.schools}), "the offline base"
    names = {t.text for t in browser.find_elements(By.CSS_SELECTOR, "#map .township-name")}
    assert "河畔镇" in names
    assert browser.find_elements(By.CSS_SELECTOR, "#map path.point")

    plans = ns.database(mongo, "notifications")["school_plans"]  # type: ignore[index]
    await wait_for(lambda: plans.find_one({"_id": "S030", "version": 3}))
    async with httpx.AsyncClient(timeout=10) as client:
        pressed = await post_press(
            client,
            stack["alarms"].url,
            ns.device_seed,
            press_body(school_id="S030", device_id="S030-BTN1", kind="fire"),
        )
    assert pressed.status_code == 202, pressed.text
    alarm_id = pressed.json()["alarm_id"]
    row = f'tr[data-alarm="{alarm_id}"]'
    # raised, and at once escalated: no unit is anywhere in this test (no_unit_in_range)
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, row)))
    text = browser.find_element(By.CSS_SELECTOR, row).text
    assert "火情" in text and "河畔镇" in text and "教学楼A 2层 201" in text
    assert "附近无可派警力" in text, "nobody in range, in words"
    assert "风险：紧邻国道" in text, "the school's plan, at a glance"
    wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#map path.alarm.s-S030"))
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-chimes") == "1"

    keys = ActionChains(browser)  # the shift's keys: choose the alarm, acknowledge it
    keys.send_keys(Keys.ARROW_DOWN).send_keys("a").perform()
    wait(browser).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, f'{row}[data-state="acknowledged"]'))
    )
    assert "chosen" in (browser.find_element(By.CSS_SELECTOR, row).get_attribute("class") or "")
    assert browser.find_element(By.CSS_SELECTOR, f"{row} td.state").text == "已接警"
    assert "接警：已执行" in browser.find_element(By.ID, "message").text

    browser.find_element(By.CSS_SELECTOR, f'{row} button[data-action="acknowledge"]').click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "message"), "接警被拒绝：cannot"))

    ActionChains(browser).send_keys(Keys.ENTER).perform()  # the alarm's details
    wait(browser).until(ec.visibility_of_element_located((By.ID, "detail")))
    wait(browser).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#timeline li[data-change]")) >= 4
    )
    steps = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#timeline li")]
    assert any("已报警" in s for s in steps) and any("已升级" in s for s in steps), steps
    assert any("已接警（wang.dispatcher）" in s for s in steps), steps
    assert any("被拒绝" in s for s in steps), "the refused click is in the timeline"
    shown = browser.find_element(By.ID, "plan").text
    assert "一校一策（第3版）" in shown and "保卫干部 马老师：0943-5551234" in shown, shown
    assert "校门：南门常闭，钥匙在门卫室" in shown
    keep_screenshot(browser, "console-zh")
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait(browser).until(ec.invisibility_of_element_located((By.ID, "detail")))

    lifecycle = await read_topic(KAFKA_BOOTSTRAP, ns.topics.alarms_lifecycle)
    (acked,) = [e for e in lifecycle if e["alarm_id"] == alarm_id and e["state"] == "acknowledged"]
    assert acked["actor"] == "wang.dispatcher" and acked["command_id"], "the click's command id"


async def test_a_click_while_the_alarms_service_is_down_is_applied_once_it_is_back(
    stack: Stack, e2e_namespace: Namespace, browser: WebDriver
) -> None:
    """Runs after the test above, on its page: the alarm is acknowledged and open. The click
    goes on the bus through notifications, so it is taken while alarms is down, and applied
    once alarms is back."""
    ns = e2e_namespace
    row = "tr.open[data-state='acknowledged']"
    alarm_id = browser.find_element(By.CSS_SELECTOR, row).get_attribute("data-alarm")
    alarms = stack["alarms"]
    alarms.kill()
    browser.find_element(By.CSS_SELECTOR, f'{row} button[data-action="resolve"]').click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "message"), "结警：已发送"))
    alarms.start()
    await asyncio.to_thread(alarms.wait_ready)
    wait(browser, 40).until(ec.text_to_be_present_in_element((By.ID, "message"), "结警：已执行"))
    lifecycle = await read_topic(KAFKA_BOOTSTRAP, ns.topics.alarms_lifecycle)
    resolved = [e for e in lifecycle if e["alarm_id"] == alarm_id and e["state"] == "resolved"]
    assert len(resolved) == 1, "the click was applied once"


async def test_a_guard_post_empty_now_shows_in_its_own_panel(
    stack: Stack, e2e_namespace: Namespace, browser: WebDriver
) -> None:
    """patrols finds a post empty in its window (its event put on the topic here): the console
    lists it apart from the alarms; the console here in English, as chosen."""
    ns = e2e_namespace
    browser.get(f"{stack['notifications'].url}/console?lang=en")
    browser.execute_script("sessionStorage.clear(); localStorage.setItem('lang', 'en')")
    sign_in(browser, stack["notifications"].url, "wang.dispatcher", PASSWORD)
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "status"), "live"))
    assert "Guard posts empty now" in browser.find_element(By.ID, "mapbox").text
    assert browser.execute_script("return document.documentElement.lang") == "en"
    now = datetime.now(UTC)
    gap = GuardPostWindow(
        post_id="P-S031-gate",
        school_id="S031",
        unit_id="U021",
        day=now.date(),
        window="afternoon",
        window_start=now - timedelta(minutes=6),
        window_end=now + timedelta(minutes=30),
        state="empty",
        final=False,
        last_seen_m=1234.0,
    )
    await put_on_topic(KAFKA_BOOTSTRAP, ns.topics.patrols_guard_posts, "P-S031-gate", gap)
    item = '#gaps li[data-post="P-S031-gate"]'
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, item)))
    text = browser.find_element(By.CSS_SELECTOR, item).text
    school = COUNTY.school("S031")
    assert school is not None and school.name in text
    assert "U021 not there (1234 m away)" in text and "Afternoon window" in text
    keep_screenshot(browser, "console-en")
    browser.execute_script("localStorage.setItem('lang', 'zh')")


async def test_a_button_in_trouble_shows_in_its_own_panel_until_restored(
    stack: Stack, e2e_namespace: Namespace, browser: WebDriver
) -> None:
    """A button reports its casing opened: alarms raises a tamper trouble, the console lists
    it apart from the alarms; the next heartbeat closes it and the list empties."""
    browser.get(f"{stack['notifications'].url}/console")
    browser.execute_script("sessionStorage.clear()")
    sign_in(browser, stack["notifications"].url, "wang.dispatcher", PASSWORD)
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "status"), "实时"))
    assert "报警按钮故障" in browser.find_element(By.ID, "mapbox").text
    seed, alarms = e2e_namespace.device_seed, stack["alarms"].url
    async with httpx.AsyncClient(timeout=10) as client:
        opened = heartbeat_body(tamper=True, battery_pct=64)
        answer = await post_heartbeat(client, alarms, seed, "S002-BTN1", opened)
        assert answer.status_code == 200, answer.text
        item = '#troubles li[data-device="S002-BTN1"][data-kind="tamper"]'
        wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, item)))
        text = browser.find_element(By.CSS_SELECTOR, item).text
        school = COUNTY.school("S002")
        assert school is not None and school.name in text
        assert "报警按钮S002-BTN1防拆报警，自" in text
        assert "电量64%" in text
        answer = await post_heartbeat(client, alarms, seed, "S002-BTN1", heartbeat_body())
        assert answer.status_code == 200, answer.text
    wait(browser).until(ec.invisibility_of_element_located((By.CSS_SELECTOR, item)))
    assert browser.find_element(By.ID, "troubles").text == "无"


async def test_the_units_show_with_their_status_and_the_age_of_their_fix(
    stack: Stack, e2e_namespace: Namespace, browser: WebDriver
) -> None:
    """A unit's fix reaches notifications' board: the console lists the unit, available, and
    how long ago it was placed."""
    ns = e2e_namespace
    browser.get(f"{stack['notifications'].url}/console")
    browser.execute_script("sessionStorage.clear()")
    sign_in(browser, stack["notifications"].url, "wang.dispatcher", PASSWORD)
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "status"), "实时"))
    school = COUNTY.school("S031")
    assert school is not None
    fix = PositionReported(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        unit_id="U007",
        lat=school.lat,
        lon=school.lon,
        recorded_at=datetime.now(UTC) - timedelta(seconds=30),
    )
    await put_on_topic(KAFKA_BOOTSTRAP, ns.topics.patrols_positions, "U007", fix)
    item = '#units li[data-unit="U007"]'
    wait(browser, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, item)))
    text = browser.find_element(By.CSS_SELECTOR, item).text
    assert text.startswith("U007：待命，定位于") and text.endswith("秒前"), text
    wait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#map path.unit.u-U007"))
