"""The production files stay consistent with the code (no Docker engine here to run them)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from services.alarms.settings import AlarmsSettings
from services.notifications.settings import NotificationsSettings
from services.patrols.settings import PatrolsSettings
from services.reporting.settings import ReportingSettings
from shared.settings import ROOT, Settings
from tools.stack import SERVICES

SERVICE_SETTINGS: dict[str, type[Settings]] = {
    "alarms": AlarmsSettings,
    "patrols": PatrolsSettings,
    "notifications": NotificationsSettings,
    "reporting": ReportingSettings,
}


def load(path: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / path).read_text())
    assert isinstance(data, dict)
    return data


def test_no_secret_values_are_committed() -> None:
    pattern = re.compile(r"(JWT_SECRET|DEVICE_KEY_SEED|secret)\s*[:=]\s*['\"]?[0-9a-f]{32,}", re.I)
    for path in [*ROOT.glob("*.yml"), *ROOT.glob("deploy/**/*.y*ml"), *ROOT.glob("*.md")]:
        assert not pattern.search(Path(path).read_text()), path


def test_the_demo_prometheus_scrapes_the_same_jobs_on_127_0_0_1() -> None:
    from tools.prometheus import local_config

    ports = {name: 9100 + i for i, name in enumerate(SERVICES)}
    config = local_config(ports)
    production = load("deploy/prometheus/prometheus.yml")
    assert [j["job_name"] for j in config["scrape_configs"]] == [
        j["job_name"] for j in production["scrape_configs"]
    ]
    groups = [g for job in config["scrape_configs"] for g in job["static_configs"]]
    assert {g["labels"]["service"]: g["targets"] for g in groups} == {
        name: [f"127.0.0.1:{port}"] for name, port in ports.items()
    }
    assert all(Path(rules).is_file() for rules in config["rule_files"])


def test_patrols_and_reporting_yield_the_cpu_to_the_alarm_path_in_both_deployments() -> None:
    from tools.stack import NICENESS

    services = load("docker-compose.yml")["services"]
    for name in ("patrols", "reporting"):
        assert services[name]["cpu_shares"] < 1024, "compose's default share is 1024"
        assert NICENESS.get(name, 0) > 0
    assert all("cpu_shares" not in services[name] for name in ("alarms", "notifications"))
    assert NICENESS.get("alarms", 0) == NICENESS.get("notifications", 0) == 0


def test_local_infra_refuses_an_unknown_database_server() -> None:
    script = ROOT / "deploy/local/infra.sh"
    run = subprocess.run(
        [str(script), "env"],
        env={**os.environ, "SECANTUS_SERVER": "mongod"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert "SECANTUS_SERVER must be python or rust" in run.stderr


def test_the_bench_runs_on_the_pinned_rust_server_and_tests_on_the_python_one() -> None:
    script = (ROOT / "deploy/local/infra.sh").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "SECANTUS_SERVER=${SECANTUS_SERVER:-python}" in script, "tests and demo: PyPI's"
    assert re.search(r"SECANTUS_RS_VERSION=\d+\.\d+\.\d+-beta\.\d+\n", script), "pinned"
    assert "cargo install --quiet --locked" in script, "the crate's own Cargo.lock"
    assert "BENCH_DB ?= rust" in makefile
    bench = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    assert "SECANTUS_SERVER=$(BENCH_DB) KAFKA_FSYNC_EACH=$(BENCH_FSYNC) $(INFRA) start" in bench
    assert "BENCH_FSYNC ?= 0" in makefile, "the broker as production runs it"
    test = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "infra-up" in test and "SECANTUS_SERVER" not in test


def test_without_cargo_the_rust_server_build_says_how_to_use_the_python_one(
    tmp_path: Path,
) -> None:
    tools = tmp_path / "bin"  # a PATH with what the script needs, and no cargo
    tools.mkdir()
    (tools / "dirname").symlink_to(shutil.which("dirname") or "/usr/bin/dirname")
    run = subprocess.run(
        ["/bin/bash", str(ROOT / "deploy/local/infra.sh"), "build-rust"],
        env={"PATH": str(tools), "SECANTUS_RS_ROOT": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "cargo not found" in run.stderr
    assert "BENCH_DB=python make bench" in run.stderr
