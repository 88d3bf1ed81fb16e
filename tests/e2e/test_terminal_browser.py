"""The unit terminal in headless Chromium behind the real proxy (Caddy, one origin for the four
services), beside the dispatcher console in another browser: the officer signs in with the
unit's id, the phone's position goes out, an order arrives live, the officer accepts it and
walks the alarm to resolved, and the console sees each step. With the proxy down, the officer's
actions wait in the terminal's outbox and are sent once, with their ids, when it is back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from shared import labels
from shared.provisioning import load_county
from shared.settings import ROOT
from shared.users import add_user
from tests.conftest import Namespace
from tests.e2e.chromium import headless_chromium, keep_screenshot, needs_chromium, sign_in, wait
from tests.helpers import post_press, press_body, wait_for
from tools.proxy import CADDY, Proxy
from tools.stack import Stack, free_port

PASSWORD = "a-password-for-the-terminal-test"
COUNTY = load_county(ROOT / "deploy" / "county.yaml")
UNIT = "U007"
GATE = COUNTY.point("S030-stop")
FAR_POINT = COUNTY.point("S030-must_reach")  # 60 m geofence, about 110 m from the gate

pytestmark = [
    needs_chromium,
    pytest.mark.skipif(not CADDY.exists(), reason="the proxy's binary is missing: make caddy"),
]


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.yaml"
    add_user(path, "wang.dispatcher", "dispatcher", PASSWORD)
    add_user(path, UNIT, "unit", PASSWORD)
    return path


@pytest.fixture(scope="module")
def stack_overrides(users_file: Path) -> dict[str, str]:
    return {"USERS_FILE": str(users_file), "ORDER_ACK_TIMEOUT_S": "120"}


@pytest.fixture(scope="module")
def proxy(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    running = Proxy(list(stack.services.values()), free_port(), tmp_path_factory.mktemp("proxy"))
    running.start()
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def console(proxy: Proxy) -> Iterator[WebDriver]:
    """The dispatcher's browser, beside the officer's (the module's `browser`)."""
    with headless_chromium() as driver:
        sign_in(driver, proxy.url, "wang.dispatcher", PASSWORD)
        wait(driver).until(ec.text_to_be_present_in_element((By.ID, "status"), "实时"))
        yield driver


def phone_at(browser: WebDriver, url: str, lat: float, lon: float) -> None:
    """The phone's position, as its GPS would give it (and the page allowed to read it)."""
    browser.execute_cdp_cmd(
        "Browser.grantPermissions", {"origin": url, "permissions": ["geolocation"]}
    )
    browser.execute_cdp_cmd(
        "Emulation.setGeolocationOverride", {"latitude": lat, "longitude": lon, "accuracy": 8}
    )


# the internal keys a page must never show where a label exists (the ones that cannot be words)
KEYS = {
    key
    for name, vocabulary in labels.CATALOGUE.items()
    if name not in {"page", "column"}
    for key in vocabulary
    if "_" in key
}


def shows_no_keys(browser: WebDriver) -> None:
    shown = browser.find_element(By.TAG_NAME, "body").text
    assert not [key for key in KEYS if key in shown], shown


def tap(browser: WebDriver, element_id: str) -> None:
    wait(browser).until(ec.element_to_be_clickable((By.ID, element_id))).click()


def alarm_state_on_console(console: WebDriver, alarm_id: str, state: str) -> None:
    row = f'tr[data-alarm="{alarm_id}"][data-state="{state}"]'
    wait(console, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, row)))


async def press_at_s030(stack: Stack, ns: Namespace) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        pressed = await post_press(
            client,
            stack["alarms"].url,
            ns.device_seed,
            press_body(school_id="S030", device_id="S030-BTN1", kind="fire"),
        )
    assert pressed.status_code == 202, pressed.text
    return str(pressed.json()["alarm_id"])


async def roster_at_the_gate(stack: Stack, ns: Namespace) -> None:
    today = datetime.now(UTC).date()
    entry = {
        "unit_id": UNIT,
        "post_id": "S030-stop",
        "windows": ["morning", "noon", "afternoon"],
        "valid_from": (today - timedelta(days=1)).isoformat(),
        "valid_to": (today + timedelta(days=1)).isoformat(),
    }
    async with httpx.AsyncClient(timeout=10) as client:
        rostered = await client.post(
            f"{stack['patrols'].url}/v1/roster", json=entry, headers=ns.auth("supervisor", "li")
        )
    assert rostered.status_code == 201, rostered.text


async def plan_for_s030(stack: Stack, ns: Namespace) -> None:
    """A supervisor's plan for the school, through patrols: it reaches the unit's order."""
    plan = {
        "version": 0,
        "risks": ["紧邻国道"],
        "contacts": [{"role": "门卫室", "phone": "0943-5550101"}],
        "gate_notes": "南门常闭，从北门进",
    }
    async with httpx.AsyncClient(timeout=10) as client:
        saved = await client.put(
            f"{stack['patrols'].url}/v1/schools/S030/plan",
            json=plan,
            headers=ns.auth("supervisor", "li"),
        )
    assert saved.status_code == 200 and saved.json()["version"] == 1, saved.text


async def stored(stack: Stack, ns: Namespace, path: str, **params: Any) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(
            f"{stack['patrols'].url}{path}", params=params, headers=ns.auth("supervisor", "li")
        )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


async def test_an_officer_takes_an_order_and_walks_the_alarm_to_resolved_through_an_outage(
    stack: Stack, e2e_namespace: Namespace, proxy: Proxy, browser: WebDriver, console: WebDriver
) -> None:
    ns = e2e_namespace
    assert GATE is not None and FAR_POINT is not None
    await roster_at_the_gate(stack, ns)
    await plan_for_s030(stack, ns)
    browser.set_window_size(412, 1500)  # a phone's width
    browser.get(f"{proxy.url}/terminal")
    phone_at(browser, proxy.url, GATE.lat, GATE.lon)
    sign_in(browser, proxy.url, "wang.dispatcher", PASSWORD, page="terminal")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "signin-error"), "执勤警力"))
    browser.find_element(By.ID, "username").clear()
    browser.find_element(By.ID, "username").send_keys(UNIT)
    browser.find_element(By.ID, "password").clear()
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "go").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "net"), "在线"))
    assert browser.find_element(By.ID, "who").text == UNIT
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "unit-status"), "待命"))
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "duty"), "早高峰"))
    duty = browser.find_element(By.ID, "duty").text
    school = COUNTY.school("S030")
    assert school is not None and school.name in duty and "午高峰" in duty and "晚高峰" in duty
    wait(browser).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, '#points li[data-point="S030-stop"]')
    )
    assert "停留点" in browser.find_element(By.ID, "points").text

    # the terminal's first fix put the unit on the board: the press orders it
    async def on_the_board() -> bool:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(
                f"{stack['notifications'].url}/v1/dispatcher/map",
                headers=ns.auth("dispatcher", "d"),
            )
        return any(u["unit_id"] == UNIT for u in answer.json()["units"])

    await wait_for(on_the_board, timeout_s=20)
    alarm_id = await press_at_s030(stack, ns)
    wait(browser, 30).until(ec.element_to_be_clickable((By.ID, "accept")))
    order = browser.find_element(By.ID, "order-body").text
    assert "火情" in order and school.name in order and "教学楼A 2层 201" in order
    assert "距离" in order and "秒内接受" in order
    assert "校门：南门常闭，从北门进" in order and "门卫室：0943-5550101" in order, order
    shows_no_keys(browser)
    keep_screenshot(browser, "terminal-order-zh")
    tap(browser, "accept")
    alarm_state_on_console(console, alarm_id, "unit_assigned")
    tap(browser, "en_route")
    alarm_state_on_console(console, alarm_id, "en_route")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "unit-status"), "出警途中"))

    # the connection drops: the officer arrives, and checks in where the geofence says no
    proxy.stop()
    tap(browser, "on_scene")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "net"), "离线"))
    checkin = f'#points li[data-point="{FAR_POINT.point_id}"] button'
    browser.find_element(By.CSS_SELECTOR, checkin).click()
    wait(browser).until(
        lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-queue") == "2"
    )
    assert "待发送2项" in browser.find_element(By.ID, "queue").text
    shows_no_keys(browser)
    keep_screenshot(browser, "terminal-offline-zh")
    proxy.start()
    await asyncio.to_thread(proxy.wait_ready)
    alarm_state_on_console(console, alarm_id, "on_scene")
    wait(browser, 30).until(ec.element_to_be_clickable((By.ID, "insist")))
    outside = browser.find_element(By.ID, "prompt").text
    assert "签到" in outside and "被拒绝" in outside and "geofence" in outside, outside
    tap(browser, "insist")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "message"), "已发送：签到"))
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "unit-status"), "已到场"))

    Select(browser.find_element(By.ID, "outcome")).select_by_value("handled")
    tap(browser, "resolve")
    alarm_state_on_console(console, alarm_id, "resolved")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "order-body"), "暂无指令"))
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "unit-status"), "待命"))
    keep_screenshot(console, "console-terminal-resolved-zh")

    # each action once, though sent through an outage
    checkins = await stored(
        stack, ns, f"/v1/points/{FAR_POINT.point_id}/checkins", since=_ago(600), until=_ago(-60)
    )
    assert [(c["unit_id"], c["flagged"]) for c in checkins] == [(UNIT, True)]
    async with httpx.AsyncClient(timeout=10) as client:
        detail = (
            await client.get(
                f"{stack['alarms'].url}/v1/alarms/{alarm_id}", headers=ns.auth("dispatcher", "d")
            )
        ).json()
    steps = [(t["state"], t["actor"]) for t in detail["timeline"]]
    assert [s for s in steps if s[1] == UNIT] == [
        ("en_route", UNIT),
        ("on_scene", UNIT),
        ("resolved", UNIT),
    ], steps
    assert detail["outcome"] == "handled"


async def test_an_officer_records_a_violation_and_a_bad_one_is_refused_naming_the_plate(
    stack: Stack, e2e_namespace: Namespace, proxy: Proxy, browser: WebDriver
) -> None:
    """Runs on the signed-in terminal of the test above."""
    ns = e2e_namespace
    Select(browser.find_element(By.ID, "v-kind")).select_by_value("illegal_parking")
    browser.find_element(By.ID, "v-officer").send_keys("062117")
    browser.find_element(By.ID, "v-record").click()  # no plate: refused, naming it
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "message"), "plate"))
    assert "被拒绝" in browser.find_element(By.ID, "message").text
    browser.find_element(By.ID, "v-plate").send_keys("甘J12345")
    browser.find_element(By.ID, "v-photo").send_keys("IMG_20261201_0812.jpg")
    browser.find_element(By.ID, "v-record").click()
    wait(browser).until(
        ec.text_to_be_present_in_element((By.ID, "message"), "已发送：记录违法行为")
    )
    found = await stored(stack, ns, "/v1/violations", school_id="S030")
    assert [(v["kind"], v["plate"], v["evidence"], v["officer"]) for v in found] == [
        ("illegal_parking", "甘J12345", ["IMG_20261201_0812.jpg"], "062117")
    ]


async def test_the_terminal_in_english_takes_an_order_the_console_sees_it(
    stack: Stack, e2e_namespace: Namespace, proxy: Proxy, browser: WebDriver, console: WebDriver
) -> None:
    ns = e2e_namespace
    browser.get(f"{proxy.url}/terminal?lang=en")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "net"), "online"))
    assert browser.execute_script("return document.documentElement.lang") == "en"
    assert "Current order" in browser.find_element(By.ID, "order").text
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "duty"), "Morning"))
    alarm_id = await press_at_s030(stack, ns)
    wait(browser, 30).until(ec.element_to_be_clickable((By.ID, "accept")))
    order = browser.find_element(By.ID, "order-body").text
    assert "Fire" in order and "Accept within" in order and "m away" in order
    tap(browser, "accept")
    alarm_state_on_console(console, alarm_id, "unit_assigned")
    wait(browser).until(ec.element_to_be_clickable((By.ID, "en_route")))
    assert "Alarm: Unit assigned" in browser.find_element(By.ID, "order-body").text
    shows_no_keys(browser)
    keep_screenshot(browser, "terminal-order-en")
    browser.execute_script("localStorage.setItem('lang', 'zh')")


def _ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()
