"""The fault suite's short version (tools/chaos.py --short; `make chaos` runs every fault): six
faults under a steady flow of presses, with two instances of alarms and notifications, and no
press answered 202 lost or applied twice."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.chaos import OUT, TOXIPROXY
from tools.stack import ROOT


@pytest.mark.skipif(not TOXIPROXY.exists(), reason="toxiproxy not built (make toxiproxy)")
def test_no_press_is_lost_or_applied_twice_under_faults(servers: tuple[str, str]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tools.chaos", "--short"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = (OUT / "latest.md").read_text(encoding="utf-8") if run.returncode in {0, 1} else ""
    assert run.returncode == 0, f"{report}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    (total,) = [line for line in report.splitlines() if line.startswith("| **all** |")]
    _, _, acknowledged, lost, duplicated, _, _ = (cell.strip() for cell in total.split("|"))
    assert int(acknowledged) > 0 and (lost, duplicated) == ("0", "0"), total
