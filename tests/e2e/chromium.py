"""Headless Chromium for the browser tests: Debian's chromium and chromium-driver with Debian's
CJK fonts, which `make test` installs (`make chromium`); screenshots are kept in
.local/artifacts/screenshots."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".local" / "artifacts" / "screenshots"


def has_chinese_fonts() -> bool:
    """Whether fontconfig knows a font that covers Chinese (fonts-noto-cjk)."""
    if shutil.which("fc-list") is None:
        return False
    found = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    )
    return bool(found.stdout.strip())


needs_chromium = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists() and has_chinese_fonts()),
    reason="Debian's chromium, chromium-driver or fonts-noto-cjk are missing: make chromium",
)


def keep_screenshot(driver: WebDriver, name: str) -> Path:
    """The page as it looks now, kept as the test's artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if not driver.save_screenshot(str(path)):
        raise RuntimeError(f"no screenshot of {name}")
    return path


@contextmanager
def headless_chromium() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    flags = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage")
    for flag in (*flags, "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait(browser: WebDriver, seconds: float = 20) -> WebDriverWait[WebDriver]:
    return WebDriverWait(browser, seconds, poll_frequency=0.1)


def sign_in(
    browser: WebDriver, url: str, username: str, password: str, page: str = "console"
) -> None:
    """Open a page and sign in on its form (the console's and the terminal's are alike)."""
    browser.get(f"{url}/{page}")
    wait(browser).until(ec.visibility_of_element_located((By.ID, "username")))
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "go").click()
