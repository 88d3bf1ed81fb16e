"""A real Prometheus (Debian's package) for the demo: the production scrape config and alert
rules of deploy/prometheus/, with the targets on 127.0.0.1, data kept under .local/."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from shared.settings import ROOT

DEPLOY = ROOT / "deploy" / "prometheus"


def local_config(ports: dict[str, int], *, scrape_interval_s: int = 5) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with each service found by DNS (Compose) scraped on
    127.0.0.1 at its port instead, labelled as the DNS name would label it; no Alertmanager."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = f"{scrape_interval_s}s"
    config["global"]["evaluation_interval"] = f"{scrape_interval_s}s"
    config["rule_files"] = [str(DEPLOY / name) for name in config["rule_files"]]
    config.pop("alerting", None)
    for job in config["scrape_configs"]:
        services = [name for sd in job.pop("dns_sd_configs") for name in sd["names"]]
        job.pop("relabel_configs", None)
        job["static_configs"] = [
            {"targets": [f"127.0.0.1:{ports[name]}"], "labels": {"service": name}}
            for name in services
        ]
    return config


@dataclass
class LocalPrometheus:
    """Started and stopped by pid; answers on 127.0.0.1 only."""

    ports: dict[str, int]
    port: int = 9090
    home: Path = ROOT / ".local" / "prometheus"
    proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> str | None:
        return shutil.which("prometheus")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        binary = self.available()
        if binary is None:
            raise FileNotFoundError("prometheus is not installed (`make promtool` installs it)")
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "prometheus.yml"
        config.write_text(yaml.safe_dump(local_config(self.ports), sort_keys=False))
        log = (self.home / "prometheus.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - Debian's prometheus, our own config
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.home / 'data'}",
                "--storage.tsdb.retention.time=2d",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited; see {self.home / 'prometheus.log'}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"prometheus not ready after {timeout_s} s")

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
