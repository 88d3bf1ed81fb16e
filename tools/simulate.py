"""A simulated county: units move and report positions, buttons beat and are pressed now
and then (one button stays quiet and one runs on a low battery, for supervision to find), a
dispatcher watches the live stream, and the field work (violations, check-ins, inspections,
sessions, letters, drills) feeds the reports.

    safecampus simulate [--duration 60] [--alarm-every 15] [--fix-every 2]

Reads JWT_SECRET and DEVICE_KEY_SEED like the services (env or .local/secrets.env).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from services.notifications.models import FEED_ITEMS, FeedEntry, TroubleEntry, order_id
from shared.auth import issue_token
from shared.events import utcnow
from shared.provisioning import County, Unit, load_county
from shared.settings import DeviceSettings
from shared.signing import derive_device_secret, device_headers
from tools import guard_duty
from tools.fieldwork import FieldWork
from tools.sse import stream_data

KINDS = ("intrusion", "violence", "fire", "medical", "other")
SPEED_MPS = {
    "patrol_car": 8.0,
    "special_patrol": 8.0,
    "foot_patrol": 1.3,
    "traffic_police": 5.0,
    "station_officer": 3.0,
    "guard_post": 0.2,
}
M_PER_DEG = 111_200.0


@dataclass(frozen=True)
class Endpoints:
    alarms: str
    patrols: str
    notifications: str
    reporting: str

    @classmethod
    def local(cls, settings: DeviceSettings) -> Endpoints:
        base = f"http://{settings.host}"
        return cls(
            f"{base}:{settings.alarms_port}",
            f"{base}:{settings.patrols_port}",
            f"{base}:{settings.notifications_port}",
            f"{base}:{settings.reporting_port}",
        )


@dataclass
class MovingUnit:
    unit: Unit
    lat: float
    lon: float
    token: str
    target: tuple[float, float] | None = None

    def step(self, dt: float, rng: random.Random, county: County) -> None:
        """Walk towards a school; pick another on arrival."""
        if self.target is None:
            school = rng.choice(county.schools)
            self.target = (school.lat, school.lon)
        dlat = (self.target[0] - self.lat) * M_PER_DEG
        dlon = (self.target[1] - self.lon) * M_PER_DEG * math.cos(math.radians(self.lat))
        dist = math.hypot(dlat, dlon)
        move = SPEED_MPS[self.unit.kind] * dt
        if dist <= move:
            self.lat, self.lon = self.target
            self.target = None
            return
        self.lat += dlat / dist * move / M_PER_DEG
        self.lon += dlon / dist * move / (M_PER_DEG * math.cos(math.radians(self.lat)))


class Simulator:
    def __init__(
        self,
        *,
        county: County,
        endpoints: Endpoints,
        jwt_secret: str,
        device_seed: str,
        rng: random.Random,
        at_terminal: frozenset[str] = frozenset(),
    ) -> None:
        self.county = county
        self.at_terminal = at_terminal  # units a person answers for, on the unit terminal
        self.endpoints = endpoints
        self.jwt_secret = jwt_secret
        self.device_seed = device_seed
        self.rng = rng
        self.units = [
            MovingUnit(
                u, u.home_lat, u.home_lon, issue_token(jwt_secret, sub=u.unit_id, role="unit")
            )
            for u in county.units
        ]
        self.sent_at: dict[str, float] = {}
        self.responders: set[asyncio.Task[None]] = set()
        self.stats = {
            "fixes": 0,
            "presses": 0,
            "seen": 0,
            "heartbeats": 0,
            "troubles": 0,
            "field_work": 0,
            "responses": 0,
            "accepted_on_terminal": 0,
            "left_to_a_person": 0,
            "errors": 0,
        }
        # the last button never beats, the one before it runs on a low battery
        self.quiet = county.devices[-1].device_id if county.devices else None
        self.low_battery = county.devices[-2].device_id if len(county.devices) > 1 else None

    async def move_units(
        self, client: httpx.AsyncClient, every_s: float, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            now = datetime.now(UTC).isoformat()
            for unit in self.units:
                unit.step(every_s, self.rng, self.county)
            results = await asyncio.gather(
                *(self._post_fix(client, u, now) for u in self.units), return_exceptions=True
            )
            for result in results:
                if result is not True:
                    self.stats["errors"] += 1
                    print(f"fix refused: {result!r}"[:300], flush=True)
            await _sleep_or_stop(stop, every_s)

    async def _post_fix(self, client: httpx.AsyncClient, unit: MovingUnit, now: str) -> bool | str:
        """True when the fix was taken, else the answer's status and body."""
        response = await post_idempotent(
            client,
            f"{self.endpoints.patrols}/v1/units/{unit.unit.unit_id}/positions",
            json={"fixes": [{"lat": unit.lat, "lon": unit.lon, "recorded_at": now}]},
            headers={"Authorization": f"Bearer {unit.token}"},
        )
        if response.status_code != 202:
            return f"{response.status_code} {response.text[:200]}"
        self.stats["fixes"] += 1
        return True

    async def beat_buttons(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        """Every button but the quiet one beats, each at the interval the server answers."""
        beaters = [
            asyncio.create_task(self._beat(client, d.device_id, stop))
            for d in self.county.devices
            if d.device_id != self.quiet
        ]
        if self.quiet:
            print(f"QUIET  {self.quiet} sends no heartbeats: supervision will find it", flush=True)
        try:
            await asyncio.gather(*beaters)
        finally:
            for task in beaters:
                task.cancel()
            await asyncio.gather(*beaters, return_exceptions=True)

    async def _beat(self, client: httpx.AsyncClient, device_id: str, stop: asyncio.Event) -> None:
        await _sleep_or_stop(stop, self.rng.uniform(0, 5))  # not all at once
        while not stop.is_set():
            battery = 15 if device_id == self.low_battery else 80 + self.rng.randint(0, 20)
            body = json.dumps(
                {
                    "sent_at": datetime.now(UTC).isoformat(),
                    "battery_pct": battery,
                    "tamper": False,
                    "power": "battery",
                    "firmware": "2.1.0",
                    "signal_dbm": -60 - self.rng.randint(0, 30),
                }
            ).encode()
            response = await post_idempotent(
                client,
                f"{self.endpoints.alarms}/v1/devices/{device_id}/heartbeat",
                content=body,
                headers=self._signed(device_id, body),
            )
            if response.status_code != 200:
                self.stats["errors"] += 1
                print(f"heartbeat refused: {response.status_code} {response.text}", flush=True)
                await _sleep_or_stop(stop, 10)
                continue
            self.stats["heartbeats"] += 1
            await _sleep_or_stop(stop, response.json()["next_in_s"])

    def _signed(self, device_id: str, body: bytes) -> dict[str, str]:
        secret = derive_device_secret(self.device_seed, device_id)
        return device_headers(secret, device_id, body)

    async def press_buttons(
        self, client: httpx.AsyncClient, every_s: float, drill_ratio: float, stop: asyncio.Event
    ) -> None:
        await _sleep_or_stop(stop, min(every_s, 3.0))
        while not stop.is_set():
            await self.press(client, drill=self.rng.random() < drill_ratio)
            await _sleep_or_stop(stop, self.rng.expovariate(1 / every_s))

    async def press(self, client: httpx.AsyncClient, *, drill: bool) -> None:
        device = self.rng.choice(self.county.devices)
        body = json.dumps(
            {
                "press_id": str(uuid.uuid4()),
                "school_id": device.school_id,
                "device_id": device.device_id,
                "kind": self.rng.choice(KINDS),
                "silent": self.rng.random() < 0.5,
                "test": drill,
                "location": {
                    "building": self.rng.choice("ABC") + "楼",
                    "floor": self.rng.randint(1, 5),
                    "room": str(self.rng.randint(101, 520)),
                },
                "pressed_at": datetime.now(UTC).isoformat(),
            },
            ensure_ascii=False,
        ).encode()
        started = time.perf_counter()
        response = await client.post(
            f"{self.endpoints.alarms}/v1/alarms",
            content=body,
            headers=self._signed(device.device_id, body),
        )
        if response.status_code != 202:
            self.stats["errors"] += 1
            print(f"press refused: {response.status_code} {response.text}", flush=True)
            return
        alarm_id = response.json()["alarm_id"]
        self.sent_at[alarm_id] = started
        self.stats["presses"] += 1
        school = self.county.school(device.school_id)
        name = school.name if school else device.school_id
        drill_mark = " (drill)" if drill else ""
        print(
            f"PRESS  {device.device_id:<10} {name}{drill_mark} → alarm {alarm_id[:8]}", flush=True
        )

    async def field_work(
        self, client: httpx.AsyncClient, every_s: float, stop: asyncio.Event
    ) -> None:
        """Violations, check-ins and the supervisors' activities, for the reports."""
        work = FieldWork(
            county=self.county,
            patrols=self.endpoints.patrols,
            reporting=self.endpoints.reporting,
            jwt_secret=self.jwt_secret,
            rng=self.rng,
        )
        await work.open_campaign(client)
        await work.plan_schools(client)
        try:
            while not stop.is_set():
                await work.step(client)
                await _sleep_or_stop(stop, self.rng.expovariate(1 / every_s))
        finally:
            self.stats["field_work"] = work.done
            self.stats["errors"] += work.errors

    async def watch_dispatcher(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        token = issue_token(self.jwt_secret, sub="sim-dispatcher", role="dispatcher")
        url = f"{self.endpoints.notifications}/v1/dispatcher/stream"
        async for data in stream_data(client, url, token):
            if stop.is_set():
                return
            item = FEED_ITEMS.validate_json(data)
            if isinstance(item, TroubleEntry):
                self._show_trouble(item)
            if not isinstance(item, FeedEntry):
                continue  # guard-post gaps are for the console
            entry = item
            self._show(entry)
            if entry.state == "raised" and entry.change == "transition":
                task = asyncio.create_task(self.respond(client, entry, token))
                self.responders.add(task)
                task.add_done_callback(self.responders.discard)

    async def respond(self, client: httpx.AsyncClient, entry: FeedEntry, token: str) -> None:
        """What the command centre and the nearest unit do: acknowledge; then every other
        alarm the unit accepts the order on its terminal (notifications assigns it), the
        others the dispatcher assigns; drive there, arrive, resolve (drills are cancelled as
        drills)."""
        url = f"{self.endpoints.alarms}/v1/alarms/{entry.alarm_id}"
        dispatcher = {"Authorization": f"Bearer {token}"}
        await asyncio.sleep(self.rng.uniform(2, 6))
        if entry.test:
            await self._act(client, f"{url}/cancel", dispatcher, {"outcome": "drill"})
            return
        await self._act(client, f"{url}/acknowledge", dispatcher, {})
        if not entry.nearest_units:
            return  # stays acknowledged; the on-scene deadline will escalate it
        unit_id = entry.nearest_units[0].unit_id
        if unit_id in self.at_terminal:
            self.stats["left_to_a_person"] += 1
            return  # its order waits on the terminal: accepted there, or passed over in time
        unit = {"Authorization": f"Bearer {issue_token(self.jwt_secret, sub=unit_id, role='unit')}"}
        status = f"{self.endpoints.patrols}/v1/units/{unit_id}/status"
        self.stats["responses"] += 1
        if self.stats["responses"] % 2:
            order = order_id(entry.alarm_id, unit_id)
            accept = f"{self.endpoints.notifications}/v1/units/{unit_id}/orders/{order}/ack"
            await self._act(client, accept, unit, {})
            self.stats["accepted_on_terminal"] += 1
        else:
            await self._act(client, f"{url}/assign", dispatcher, {"unit_id": unit_id})
        await self._act(client, f"{url}/en-route", unit, {})
        await self._act(client, status, unit, {"status": "en_route"})
        await asyncio.sleep(self.rng.uniform(3, 8))
        await self._act(client, f"{url}/on-scene", unit, {})
        await self._act(client, status, unit, {"status": "on_scene"})
        await asyncio.sleep(self.rng.uniform(3, 8))
        await self._act(client, f"{url}/resolve", dispatcher, {"outcome": "handled"})
        await self._act(client, status, unit, {"status": "available"})

    async def _act(
        self, client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict[str, str]
    ) -> None:
        response = await client.post(url, json=body, headers=headers)
        if response.status_code == 409 and "/status" in url:
            return  # e.g. a guard post that is on_post: the unit keeps its own status
        if response.status_code not in (200, 202):
            self.stats["errors"] += 1
            print(
                f"command refused: {url.rsplit('/', 1)[-1]} {response.status_code} {response.text}",
                flush=True,
            )

    def _show_trouble(self, trouble: TroubleEntry) -> None:
        self.stats["troubles"] += 1
        battery = f" battery {trouble.battery_pct}%" if trouble.battery_pct is not None else ""
        print(
            f"DEVICE {trouble.device_id:<10} {trouble.kind} {trouble.status} "
            f"{trouble.school.name}{battery}",
            flush=True,
        )

    def _show(self, entry: FeedEntry) -> None:
        alarm_id = str(entry.alarm_id)
        started = self.sent_at.pop(alarm_id, None)
        latency = f"{(time.perf_counter() - started) * 1000:6.1f} ms" if started else "   —    "
        nearest = ", ".join(f"{u.unit_id} {u.distance_m:.0f} m" for u in entry.nearest_units)
        self.stats["seen"] += 1
        if entry.state != "raised" or entry.change == "folded":
            extra = f"unit {entry.assigned_unit}" if entry.assigned_unit else ""
            what = "folded press" if entry.change == "folded" else entry.state
            print(f"ALARM  {alarm_id[:8]} {what:<13} {entry.school.name} {extra}", flush=True)
            return
        print(
            f"ALARM  {alarm_id[:8]} {entry.state:<13} {entry.school.name} [{entry.kind}] "
            f"press→dispatcher {latency} | nearest: {nearest or 'no unit in range'}",
            flush=True,
        )


async def post_idempotent(client: httpx.AsyncClient, url: str, **request: Any) -> httpx.Response:
    """POST what may be sent twice (a fix's id derives from unit and time; a heartbeat proves
    the same moment), once more when the connection drops: a pooled keep-alive connection the
    server closed just as it was reused, as a terminal on a mobile network retries."""
    try:
        return await client.post(url, **request)
    except httpx.TransportError:
        return await client.post(url, **request)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return


async def run(
    *,
    endpoints: Endpoints,
    settings: DeviceSettings,
    duration_s: float | None,
    alarm_every_s: float,
    fix_every_s: float,
    drill_ratio: float,
    seed: int | None,
    field_work_every_s: float = 3.0,
    at_terminal: frozenset[str] = frozenset(),
) -> dict[str, int]:
    county = load_county(settings.county_file)
    if settings.device_key_seed is None:
        raise SystemExit("DEVICE_KEY_SEED is not set (make secrets writes .local/secrets.env)")
    sim = Simulator(
        county=county,
        endpoints=endpoints,
        jwt_secret=settings.require_jwt_secret(),
        device_seed=settings.device_key_seed.get_secret_value(),
        rng=random.Random(seed),
        at_terminal=at_terminal,
    )
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        chief = issue_token(settings.require_jwt_secret(), sub="demo-supervisor", role="supervisor")
        headers = {"Authorization": f"Bearer {chief}"}
        print(await guard_duty.set_up(client, endpoints.patrols, headers, county, utcnow()))
        tasks = [
            asyncio.create_task(sim.watch_dispatcher(client, stop)),
            asyncio.create_task(sim.move_units(client, fix_every_s, stop)),
            asyncio.create_task(sim.beat_buttons(client, stop)),
            asyncio.create_task(sim.press_buttons(client, alarm_every_s, drill_ratio, stop)),
            asyncio.create_task(sim.field_work(client, field_work_every_s, stop)),
        ]
        try:
            if duration_s is None:
                await asyncio.gather(*tasks)
            else:
                await asyncio.sleep(duration_s)
        finally:
            stop.set()
            for task in [*tasks, *sim.responders]:  # responders answer alarms still in flight
                task.cancel()
            await asyncio.gather(*tasks, *sim.responders, return_exceptions=True)
    return sim.stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="safecampus simulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # each option's dest is the parameter of run() it sets
    for flag, dest, default, text in (
        ("--duration", "duration_s", None, "seconds (default: until Ctrl-C)"),
        ("--alarm-every", "alarm_every_s", 15.0, "mean seconds between presses"),
        ("--fix-every", "fix_every_s", 2.0, "seconds between position reports"),
        ("--drill-ratio", "drill_ratio", 0.2, "share of presses that are drills"),
    ):
        parser.add_argument(flag, dest=dest, metavar="N", type=float, default=default, help=text)
    parser.add_argument("--seed", type=int, default=None)
    options = vars(parser.parse_args(argv))
    settings = DeviceSettings()
    stats = asyncio.run(run(endpoints=Endpoints.local(settings), settings=settings, **options))
    print(f"simulator: {stats}")


if __name__ == "__main__":
    main()
