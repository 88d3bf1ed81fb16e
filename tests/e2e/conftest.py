"""The four services as processes on the real broker and database, one namespace per module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import Namespace, drop_namespace, new_namespace
from tests.e2e.chromium import headless_chromium
from tools.stack import SERVICES, Stack


@pytest.fixture(scope="module")
async def e2e_namespace(servers: tuple[str, str]) -> AsyncIterator[Namespace]:
    ns = new_namespace()
    yield ns
    await drop_namespace(ns)


@pytest.fixture(scope="module")
def stack_overrides() -> dict[str, str]:
    """Settings a test module gives its services (a module overrides this fixture)."""
    return {}


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    """Which services a test module starts (a module overrides this fixture)."""
    return SERVICES


@pytest.fixture(scope="module")
def stack(
    e2e_namespace: Namespace,
    stack_overrides: dict[str, str],
    stack_services: tuple[str, ...],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    log_dir: Path = tmp_path_factory.mktemp(f"logs-{e2e_namespace.name}")
    journal = tmp_path_factory.mktemp(f"journal-{e2e_namespace.name}")
    env = e2e_namespace.env() | {"JOURNAL_DIR": str(journal)} | stack_overrides
    running = Stack(env=env, log_dir=log_dir, names=stack_services)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium per module (tests that use it are marked needs_chromium)."""
    with headless_chromium() as driver:
        yield driver
