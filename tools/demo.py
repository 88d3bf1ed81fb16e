"""`make demo`: the four services on the embedded default, and the simulated county.

Starts the services (ports from settings: 8001-8004), prints where to look, runs the simulator
until Ctrl-C (or DEMO_DURATION seconds), then stops the services it started.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal

from shared.auth import issue_token
from shared.settings import ROOT, Settings
from shared.users import add_user
from tools.simulate import Endpoints, run
from tools.stack import Stack

DEMO_DISPATCHER = "demo-dispatcher"


def demo_dispatcher(settings: Settings) -> str:
    """A dispatcher account for this demo run, with a fresh random password (in USERS_FILE,
    hashed; the password is only printed to this terminal)."""
    password = secrets.token_urlsafe(12)
    add_user(settings.users_file, DEMO_DISPATCHER, "dispatcher", password)
    return password


def banner(settings: Settings, endpoints: Endpoints, password: str) -> str:
    secret = settings.require_jwt_secret()
    dispatcher = issue_token(secret, sub="demo-dispatcher", role="dispatcher")
    supervisor = issue_token(secret, sub="demo-supervisor", role="supervisor")
    return f"""
SafeCampus demo is running (Kafka + SecantusDB on 127.0.0.1, four services):
  alarms         {endpoints.alarms}/docs          (button ingress: POST /v1/alarms, signed)
  patrols        {endpoints.patrols}/docs
  notifications  {endpoints.notifications}/docs
  reporting      {endpoints.reporting}/docs

Dispatcher console (live alarms, map, commands): {endpoints.notifications}/console
  sign in as {DEMO_DISPATCHER} / {password}
  (or open {endpoints.notifications}/console#token={dispatcher})
Dispatcher live stream in a terminal:
  curl -N -H 'Authorization: Bearer {dispatcher}' {endpoints.notifications}/v1/dispatcher/stream
Alarms per school (supervisor):
  curl -H 'Authorization: Bearer {supervisor}' {endpoints.reporting}/v1/reports/alarms-by-school
Metrics: {endpoints.alarms}/metrics (and on every service). Logs: .local/demo-logs/
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
    settings = Settings()
    ports = {
        "alarms": settings.alarms_port,
        "patrols": settings.patrols_port,
        "notifications": settings.notifications_port,
        "reporting": settings.reporting_port,
    }
    password = demo_dispatcher(settings)
    stack = Stack(env={}, log_dir=ROOT / ".local" / "demo-logs", ports=ports)
    print("starting the four services ...", flush=True)
    stack.start()
    endpoints = Endpoints.local(settings)
    try:
        print(banner(settings, endpoints, password), flush=True)
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
            )
        )
        print(f"simulator: {stats}")
    except KeyboardInterrupt:
        print("\nstopping ...")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
