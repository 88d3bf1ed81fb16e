"""The bench names the database server its numbers were taken on, and how fast the machine ran."""

from __future__ import annotations

import time

from tools.bench import describe_server
from tools.speed_probe import SpeedProbe, slowed_pct


def test_the_python_and_rust_secantus_servers_and_mongod_are_told_apart() -> None:
    python = describe_server({"version": "8.2.11", "secantusVersion": "0.7.0b3"})
    rust = describe_server({"version": "8.2.11", "secantusVersion": "0.5.3-beta.196"})
    assert python == "SecantusDB 0.7.0b3 (Python server, speaks MongoDB 8.2.11)"
    assert rust == "SecantusDB 0.5.3-beta.196 (Rust server, speaks MongoDB 8.2.11)"
    assert describe_server({"version": "8.0.4"}) == "MongoDB 8.0.4"


def test_the_speed_probe_counts_samples_over_twice_the_median_as_a_slowed_machine() -> None:
    samples = [0.0008] * 97 + [0.0017, 0.0030, 0.0016]
    assert slowed_pct(samples) == 2.0, "1.7 and 3.0 ms are over 1.6; 1.6 is not"
    assert slowed_pct([]) == 0.0


def test_the_speed_probe_process_returns_its_samples() -> None:
    probe = SpeedProbe()
    probe.start()
    time.sleep(1.0)
    samples = probe.stop()
    assert len(samples) >= 3
    assert all(0 < s < 1 for s in samples)
