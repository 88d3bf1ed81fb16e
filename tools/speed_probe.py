"""How fast the machine itself ran during a benchmark: a fixed piece of CPU work, timed every
50 ms in a process of its own (about 2 % of a core).

The development machines are virtual, with two cores shared with other guests, and their
speed changes over minutes: the same bench on the same code can give a p99 ten times longer
a few minutes later. The work's *CPU time* (`time.thread_time`) does not count time the
guest's own scheduler gave to other processes, so it grows only when the processor itself is
slower for us: on a guest that reports no steal time (as here), time the host gave to other
guests while the probe ran is counted as the probe's. A run whose probe shows that was
measured on a slow machine, not on slow code. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from typing import Any

WORK_ITERATIONS = 20_000  # under a millisecond of CPU at full speed (docs/benchmarks.md)
PERIOD_S = 0.05
SLOWED = 2.0  # a sample over twice the run's median counts as the machine slowed down


def fixed_work() -> int:
    total = 0
    for i in range(WORK_ITERATIONS):
        total += i * i
    return total


def _probe(stop: Any, out: Any) -> None:
    cpu_s: list[float] = []
    while not stop.is_set():
        started = time.thread_time()
        fixed_work()
        cpu_s.append(time.thread_time() - started)
        stop.wait(PERIOD_S)
    out.put(cpu_s)


class SpeedProbe:
    """The probe's process: `start`, then `stop` returns the CPU seconds of each sample."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._out = ctx.Queue()
        self._process = ctx.Process(target=_probe, args=(self._stop, self._out), daemon=True)

    def start(self) -> None:
        self._process.start()

    def stop(self) -> list[float]:
        self._stop.set()
        samples: list[float] = self._out.get(timeout=30)
        self._process.join(timeout=30)
        return samples


def slowed_pct(cpu_s: list[float]) -> float:
    """The share of samples, in %, whose work took over SLOWED times the run's median."""
    if not cpu_s:
        return 0.0
    median = statistics.median(cpu_s)
    return round(100 * sum(1 for s in cpu_s if s > SLOWED * median) / len(cpu_s), 1)
