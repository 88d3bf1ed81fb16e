"""`make demo`: the four services on the embedded default, and the simulated county.

Starts the services (ports from settings: 8001-8004), the proxy in front of them (127.0.0.1:8080,
DEMO_PROXY_PORT; the unit terminal's one origin) and, when Debian's prometheus is installed,
a Prometheus on 127.0.0.1:9090 (PROMETHEUS_PORT) scraping them; prints where to look, runs the
simulator until Ctrl-C (or DEMO_DURATION seconds), then stops what it started.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal

from shared.auth import Role, issue_token
from shared.settings import ROOT, DeviceSettings, SignInSettings
from shared.users import add_user
from tools.prometheus import LocalPrometheus
from tools.proxy import CADDY, Proxy
from tools.simulate import Endpoints, run
from tools.stack import Stack

DEMO_DISPATCHER = "demo-dispatcher"
DEMO_SUPERVISOR = "demo-supervisor"
DEMO_UNIT = "U001"  # a person answers its orders on the unit terminal; the simulator still moves it


class DemoSettings(DeviceSettings, SignInSettings):
    """What the demo reads: the device seed (the simulated buttons) and the users file."""


def demo_account(settings: DemoSettings, username: str, role: Role) -> str:
    """An account for this demo run, with a fresh random password (in USERS_FILE, hashed; the
    password is only printed to this terminal)."""
    password = secrets.token_urlsafe(12)
    add_user(settings.users_file, username, role, password)
    return password


def start_prometheus(ports: dict[str, int]) -> LocalPrometheus | None:
    """Debian's Prometheus scraping the four services, when it is installed."""
    if LocalPrometheus.available() is None:
        print("prometheus is not installed: the demo runs without it (`make promtool`)")
        return None
    prometheus = LocalPrometheus(ports=ports, port=int(os.environ.get("PROMETHEUS_PORT", "9090")))
    try:
        prometheus.start()
    except (RuntimeError, TimeoutError) as exc:
        print(f"prometheus did not start ({exc}); the demo runs without it")
        return None
    return prometheus


def start_proxy(stack: Stack) -> Proxy | None:
    """The Compose proxy's routes on 127.0.0.1 (DEMO_PROXY_PORT, 8080): the unit terminal's one
    origin. Without the binary (`make caddy`) the demo runs without it."""
    if not CADDY.exists():
        print("the proxy is not built: the demo runs without the unit terminal (`make caddy`)")
        return None
    port = int(os.environ.get("DEMO_PROXY_PORT", "8080"))
    proxy = Proxy(list(stack.services.values()), port, ROOT / ".local" / "demo-proxy")
    proxy.start()
    try:
        proxy.wait_ready()
    except (RuntimeError, TimeoutError) as exc:
        print(f"the proxy did not start ({exc}); the demo runs without the unit terminal")
        proxy.stop()
        return None
    return proxy


def terminal_lines(proxy: Proxy | None, passwords: dict[str, str]) -> str:
    if proxy is None:
        return "Unit terminal: not running (build the proxy: `make caddy`)"
    return f"""Unit terminal (an officer's phone; everything also answers through this proxy):
  {proxy.url}/terminal   sign in as {DEMO_UNIT} / {passwords[DEMO_UNIT]}
  (the simulator moves {DEMO_UNIT} but leaves its orders to you: accept within 20 s)"""


def banner(
    settings: DemoSettings,
    endpoints: Endpoints,
    passwords: dict[str, str],
    prometheus: LocalPrometheus | None,
    proxy: Proxy | None,
) -> str:
    secret = settings.require_jwt_secret()
    dispatcher = issue_token(secret, sub="demo-dispatcher", role="dispatcher")
    supervisor = issue_token(secret, sub="demo-supervisor", role="supervisor")
    watching = (
        f"Prometheus (every 5 s, the rules of deploy/prometheus/): {prometheus.url}/alerts"
        if prometheus
        else "Prometheus: not running (install Debian's prometheus: `make promtool`)"
    )
    return f"""
SafeCampus demo is running (Kafka + SecantusDB on 127.0.0.1, four services):
  alarms         {endpoints.alarms}/docs          (button ingress: POST /v1/alarms, signed)
  patrols        {endpoints.patrols}/docs
  notifications  {endpoints.notifications}/docs
  reporting      {endpoints.reporting}/docs

Dispatcher console (live alarms, map, commands): {endpoints.notifications}/console
  sign in as {DEMO_DISPATCHER} / {passwords[DEMO_DISPATCHER]}
  (or open {endpoints.notifications}/console#token={dispatcher})
Dashboard and printable report (supervisors):
  {endpoints.reporting}/dashboard   {endpoints.reporting}/report
  sign in as {DEMO_SUPERVISOR} / {passwords[DEMO_SUPERVISOR]}
{terminal_lines(proxy, passwords)}
Dispatcher live stream in a terminal:
  curl -N -H 'Authorization: Bearer {dispatcher}' {endpoints.notifications}/v1/dispatcher/stream
Alarms per school (supervisor):
  curl -H 'Authorization: Bearer {supervisor}' {endpoints.reporting}/v1/reports/alarms-by-school
Period summary as CSV:
  curl -H 'Authorization: Bearer {supervisor}' '{endpoints.reporting}/v1/reports/summary?format=csv'
Metrics: {endpoints.alarms}/metrics (and on every service). Logs: .local/demo-logs/
{watching}
Ctrl-C stops the simulator and the services (Kafka and the database keep running:
`make infra-down` stops them).
"""


def _stop_on_sigterm() -> None:
    """SIGTERM (a closed terminal, `timeout`, a supervisor) stops the demo like Ctrl-C does,
    so the services it started are stopped too."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    _stop_on_sigterm()
    settings = DemoSettings()
    ports = {
        "alarms": settings.alarms_port,
        "patrols": settings.patrols_port,
        "notifications": settings.notifications_port,
        "reporting": settings.reporting_port,
    }
    passwords = {
        DEMO_DISPATCHER: demo_account(settings, DEMO_DISPATCHER, "dispatcher"),
        DEMO_SUPERVISOR: demo_account(settings, DEMO_SUPERVISOR, "supervisor"),
        DEMO_UNIT: demo_account(settings, DEMO_UNIT, "unit"),
    }
    # buttons beat every 10 s and go offline after 30 s: the quiet one shows within a minute
    demo_env = {"HEARTBEAT_EVERY_S": "10", "OFFLINE_AFTER_S": "30"}
    stack = Stack(env=demo_env, log_dir=ROOT / ".local" / "demo-logs", ports=ports)
    print("starting the four services ...", flush=True)
    stack.start()
    prometheus = start_prometheus(ports)
    proxy = start_proxy(stack)
    endpoints = Endpoints.local(settings)
    try:
        print(banner(settings, endpoints, passwords, prometheus, proxy), flush=True)
        duration = float(os.environ["DEMO_DURATION"]) if os.environ.get("DEMO_DURATION") else None
        stats = asyncio.run(
            run(
                endpoints=endpoints,
                settings=settings,
                duration_s=duration,
                alarm_every_s=10.0,
                fix_every_s=2.0,
                drill_ratio=0.2,
                seed=None,
                at_terminal=frozenset({DEMO_UNIT}) if proxy else frozenset(),
            )
        )
        print(f"simulator: {stats}")
    except KeyboardInterrupt:
        print("\nstopping ...")
    finally:
        if prometheus:
            prometheus.stop()
        if proxy:
            proxy.stop()
        stack.stop()


if __name__ == "__main__":
    main()
