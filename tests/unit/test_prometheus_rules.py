"""The Prometheus configuration and alert rules: promtool's checks and rule unit tests, and
every metric a rule names is one the services export."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from shared.settings import ROOT

PROMETHEUS = ROOT / "deploy" / "prometheus"
promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    promtool is None, reason="promtool not installed (make test installs Debian's prometheus)"
)


def run(*args: str) -> str:
    assert promtool is not None
    done = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@needs_promtool
def test_alert_rules_and_scrape_config_are_valid() -> None:
    assert "SUCCESS: 12 rules found" in run("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert "SUCCESS" in run("check", "config", str(PROMETHEUS / "prometheus.yml"))


@needs_promtool
def test_alerts_fire_on_the_series_that_should_fire_them() -> None:
    assert "SUCCESS" in run("test", "rules", "tests/prometheus/alerts_test.yml")


def test_every_metric_in_a_rule_is_exported_by_the_code() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    exprs = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    named = set(re.findall(r"\b(safecampus_[a-z_]+)", exprs))
    code = " ".join(
        p.read_text() for p in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]
    )
    exported = {
        m[:-6] if m.endswith("_total") else m for m in re.findall(r'"(safecampus_[a-z_]+)"', code)
    }
    missing = {n for n in named if n not in exported and n.removesuffix("_total") not in exported}
    assert named and not missing, missing


def test_the_dashboard_is_current_and_queries_only_exported_metrics() -> None:
    import json

    from tools.gen_dashboard import dashboard

    committed = json.loads((ROOT / "deploy" / "grafana" / "safecampus.json").read_text())
    assert committed == dashboard(), (
        "run `python -m tools.gen_dashboard > deploy/grafana/safecampus.json`"
    )
    exprs = " ".join(t["expr"] for p in committed["panels"] for t in p["targets"])
    named = {
        re.sub(r"_(bucket|total)$", "", n) for n in re.findall(r"\b(safecampus_[a-z_]+)", exprs)
    }
    code = " ".join(
        p.read_text() for p in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]
    )
    exported = {re.sub(r"_total$", "", m) for m in re.findall(r'"(safecampus_[a-z_]+)"', code)}
    assert len(named) >= 10 and named <= exported, named - exported
