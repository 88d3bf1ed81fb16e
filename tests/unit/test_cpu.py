"""What the benchmarks charge each press and fix: CPU time read from /proc."""

from __future__ import annotations

import os
import time

from tools.cpu import CpuMeter, cpu_seconds, per_unit_ms


def busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_meter_charges_a_group_the_cpu_its_processes_used() -> None:
    meter = CpuMeter(lambda: {"me": [os.getpid()]})
    meter.start()
    busy(0.2)
    used = meter.stop()["me"]
    assert 0.15 <= used <= 1.0, used
    assert cpu_seconds(os.getpid()) >= used


def test_per_unit_is_milliseconds_per_unit_of_work_per_group_and_in_all() -> None:
    assert per_unit_ms({"alarms": 1.5, "kafka": 0.5}, 100) == {
        "alarms": 15.0,
        "kafka": 5.0,
        "all": 20.0,
    }
    assert per_unit_ms({"alarms": 1.0}, 0) == {}
