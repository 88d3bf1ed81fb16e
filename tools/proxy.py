"""The Compose proxy (deploy/proxy/Caddyfile) in front of services on 127.0.0.1, for the demo and
the browser tests: one origin for the pages that call several services (the unit terminal).

The routes are the Caddyfile's own; only the way in and the upstreams change: Caddy listens on
127.0.0.1 at a port of our choosing, and each service's instances are static addresses instead
of Compose's DNS. The binary is the one `make caddy` builds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tools.stack import ROOT, ServiceProcess

CADDY = ROOT / ".local" / "bin" / "caddy"
CADDYFILE = ROOT / "deploy" / "proxy" / "Caddyfile"
CADDY_HOMES = ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME")  # its storage: ours, not ~
IMPORT = re.compile(r"^(\s*)import instances (\w+) \d+$", re.M)


def render(upstreams: dict[str, list[int]], port: int) -> str:
    """The Caddyfile with its way in on 127.0.0.1:`port` and static upstreams per service."""
    text = CADDYFILE.read_text(encoding="utf-8")
    text = text.replace("\tadmin off\n", "\tadmin off\n\tdefault_bind 127.0.0.1\n", 1)
    text, listens = re.subn(r"^:8080 \{$", f":{port} {{", text, flags=re.M)
    if listens != 1:
        raise ValueError(f"{CADDYFILE}: no ':8080 {{' site to listen on")

    def static(match: re.Match[str]) -> str:
        indent, name = match.group(1), match.group(2)
        ports = upstreams.get(name)
        if not ports:
            return f"{indent}to 127.0.0.1:9"  # a service not started: 502, as in life
        lines = [
            "to " + " ".join(f"127.0.0.1:{p}" for p in ports),
            "lb_policy round_robin",
            "lb_try_duration 5s",
            "fail_duration 10s",
            "flush_interval -1",
        ]
        return "\n".join(indent + line for line in lines)

    return IMPORT.sub(static, text)


@dataclass
class Proxy:
    """Caddy in front of the given services' processes, listening on 127.0.0.1:`port`."""

    services: list[ServiceProcess]
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not CADDY.exists():
            raise FileNotFoundError(f"{CADDY}: make caddy")
        upstreams: dict[str, list[int]] = {}
        for service in self.services:
            upstreams.setdefault(service.name, []).append(service.port)
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "Caddyfile"
        config.write_text(render(upstreams, self.port), encoding="utf-8")
        log = (self.workdir / "caddy.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own build of Caddy
            [str(CADDY), "run", "--adapter", "caddyfile", "--config", str(config)],
            cwd=self.workdir,
            env=os.environ | {k: str(self.workdir) for k in CADDY_HOMES},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        """Until Caddy answers (a 404 for a path no service has is an answer)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"caddy exited; see {self.workdir / 'caddy.log'}")
            try:
                httpx.get(f"{self.url}/no-such-page", timeout=2.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TimeoutError(f"caddy not answering on {self.url} after {timeout_s} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
