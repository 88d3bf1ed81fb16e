"""Starts and stops the four services as processes; shared by the demo, benchmarks and e2e tests.

Only processes started here are stopped here, by their pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES = ("alarms", "patrols", "notifications", "reporting")
# On one machine the services share its cores. Patrols' work is bulk (position batches,
# history) and human-paced (check-ins), reporting's is read models and reports nobody waits
# on by the millisecond: they run at a lower CPU priority so that the alarm path (alarms,
# notifications) wins contended CPU (docs/benchmarks.md). docker-compose.yml says the same
# with cpu_shares.
NICENESS = {"patrols": 10, "reporting": 10}
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    """One service process with its own environment, port and log file."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} was not started")
        return self.proc.pid

    def start(self, **overrides: str) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"{self.name} is already running (pid {self.proc.pid})")
        env = os.environ | self.env | {f"{self.name.upper()}_PORT": str(self.port)} | overrides
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", f"services.{self.name}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if NICENESS.get(self.name):
            os.setpriority(os.PRIO_PROCESS, self.proc.pid, NICENESS[self.name])

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until this process (not another one on the same port) answers /readyz with 200."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}:\n{self.tail()}")
            try:
                health = httpx.get(f"{self.url}/healthz", timeout=2.0).json()
                other = health.get("pid")
                if other != self.proc.pid:
                    raise RuntimeError(
                        f"port {self.port} is answered by another process (pid {other}), "
                        f"not {self.name} (pid {self.proc.pid}); stop it first"
                    )
                if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout_s} s:\n{self.tail()}")

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM (graceful), SIGKILL if it does not exit in time; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no offset commits; what a crash looks like."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Stack:
    """The services (all four unless `names` says) sharing one environment (namespace,
    secrets, servers)."""

    env: dict[str, str]
    log_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    names: tuple[str, ...] = SERVICES
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        ports = {name: self.ports.get(name) or free_port() for name in self.names}
        # every service learns where the others listen (the console's commands go to alarms)
        env = self.env | {f"{name.upper()}_PORT": str(port) for name, port in ports.items()}
        for name, port in ports.items():
            self.services[name] = ServiceProcess(name, port, env, self.log_dir / f"{name}.log")

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def replica(self, name: str, number: int) -> ServiceProcess:
        """Another instance of a service, on a port of its own (not started, not stopped with
        the stack: its caller owns it)."""
        first = self.services[name]
        # an instance's own state: alarms' press journal (two instances must never share one)
        journal = self.log_dir / f"{name}-{number}.journal"
        env = first.env | {"JOURNAL_DIR": str(journal)}
        return ServiceProcess(name, free_port(), env, self.log_dir / f"{name}-{number}.log")

    def start(self, timeout_s: float = 90.0) -> None:
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready(timeout_s)

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
