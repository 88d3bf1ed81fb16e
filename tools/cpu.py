"""CPU time of processes, read from /proc (Linux): what the benchmarks charge each press and each
fix, for sizing (docs/deploy.md). Groups of pids: a service's instances, the broker, the
database server."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shared.settings import ROOT

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
INFRA_PIDS = {  # written by deploy/local/infra.sh
    "kafka": ROOT / ".local" / "kafka" / "kafka.pid",
    "database": ROOT / ".local" / "secantus" / "secantus.pid",
}


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far (fields 14 and 15 of its stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, field 3 onwards
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def infra_pids() -> dict[str, list[int]]:
    """The broker's and the database server's pids, as infra.sh recorded them."""
    return {name: [int(path.read_text().strip())] for name, path in INFRA_PIDS.items()}


@dataclass
class CpuMeter:
    """CPU seconds per group between `start()` and `stop()`. `pids` is asked at both ends, so
    a group may be given as the processes it has at the time."""

    pids: Callable[[], dict[str, list[int]]]
    _start: dict[int, float] = field(default_factory=dict)

    def start(self) -> None:
        self._start = {pid: cpu_seconds(pid) for group in self.pids().values() for pid in group}

    def stop(self) -> dict[str, float]:
        return {
            name: round(sum(cpu_seconds(pid) - self._start.get(pid, 0.0) for pid in group), 3)
            for name, group in self.pids().items()
        }


def per_unit_ms(used: dict[str, float], units: float) -> dict[str, float]:
    """CPU milliseconds per unit of work (a press, a fix), per group and in all."""
    if units <= 0:
        return {}
    found = {name: round(seconds * 1000 / units, 2) for name, seconds in used.items()}
    return found | {"all": round(sum(used.values()) * 1000 / units, 2)}
