"""Every series docs/operations.md documents is exported: scraped from the four running services."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from shared.settings import ROOT
from tests.helpers import wait_for
from tools.prometheus import LocalPrometheus
from tools.stack import SERVICES, Stack, free_port

REFERENCE = ROOT / "docs" / "operations.md"
DOCUMENTED = re.compile(r"`(safecampus_[a-z_{},]+?)(?:\{[a-z_,]+\})?`")


def documented_series() -> set[str]:
    """Names in the reference's metrics list, `a_{b,c}_total` expanded, label sets dropped."""
    text = REFERENCE.read_text(encoding="utf-8")
    section = text[text.index("The metrics include:") : text.index("**Alert rules.**")]
    names: set[str] = set()
    for token in DOCUMENTED.findall(section):
        match = re.fullmatch(r"(.*)\{([a-z_,]+)\}(.*)", token)
        if match:
            head, options, tail = match.groups()
            names |= {f"{head}{option}{tail}" for option in options.split(",")}
        else:
            names.add(token)
    return names


def exported(text: str) -> set[str]:
    """Metric names in a scrape: each family's declared name, and each sample's name."""
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    samples = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", text, re.M))
    # a counter's family drops `_total`; one with labels and no sample yet shows only that
    counters = {f"{name}_total" for name in re.findall(r"^# TYPE (\S+) counter$", text, re.M)}
    return families | samples | counters


async def test_every_documented_series_is_on_some_service(stack: Stack) -> None:
    documented = documented_series()
    assert len(documented) > 40, "the reference's list was found and read"
    found: set[str] = set()
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("alarms", "patrols", "notifications", "reporting"):
            response = await client.get(f"{stack[name].url}/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            found |= exported(response.text)
    assert sorted(documented - found) == []


async def test_every_service_exports_its_http_and_consumer_series(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("alarms", "patrols", "notifications", "reporting"):
            await client.get(f"{stack[name].url}/healthz")
            text = (await client.get(f"{stack[name].url}/metrics")).text
            names = exported(text)
            for series in (
                "safecampus_http_requests_total",
                "safecampus_http_request_duration_seconds",
                "safecampus_consumer_lag",
                "safecampus_background_failures_total",
                "safecampus_event_loop_lag_seconds",
                "safecampus_gc_pause_seconds",
            ):
                assert series in names, f"{name} lacks {series}"
            assert 'route="/healthz"' in text


@pytest.mark.skipif(
    LocalPrometheus.available() is None, reason="Debian's prometheus is missing: `make promtool`"
)
async def test_the_demo_prometheus_scrapes_all_four_and_loads_the_alert_rules(
    stack: Stack, tmp_path: Path
) -> None:
    """What `make demo` starts: Debian's Prometheus with deploy/prometheus/'s config and rules."""
    ports = {name: stack[name].port for name in SERVICES}
    prometheus = LocalPrometheus(ports=ports, port=free_port(), home=tmp_path)
    await asyncio.to_thread(prometheus.start)
    try:
        async with httpx.AsyncClient(base_url=prometheus.url, timeout=10) as client:

            async def all_up() -> dict[str, str] | None:
                query = await client.get("/api/v1/query", params={"query": "up"})
                result = query.json()["data"]["result"]
                up = {r["metric"]["service"]: r["value"][1] for r in result}
                return up if up == dict.fromkeys(SERVICES, "1") else None

            await wait_for(all_up, timeout_s=40, interval_s=1)
            rules = (await client.get("/api/v1/rules")).json()["data"]["groups"]
            names = {rule["name"] for group in rules for rule in group["rules"]}
            assert {"AlarmUnacknowledgedPastDeadline", "GuardPostGap"} <= names
    finally:
        await asyncio.to_thread(prometheus.stop)
    assert prometheus.proc is not None and prometheus.proc.returncode is not None
