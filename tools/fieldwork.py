"""The bureau's other work in the simulated county, through the services' own APIs: traffic
police record violations in a campaign, units check in at patrol points and report hazards,
supervisors record inspections, sessions, letters to parents and drills, assign hazards to
departments and keep schools' plans, the command centre checks gates by video, officers check
rental housing and hotels near schools, schools' gates log visitors in and out (made-up people).
Feeds the reports, the dashboard and the bulletin."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.patrols.personal import id_check_character
from shared.auth import issue_token
from shared.events import INSPECTION_ITEMS
from shared.provisioning import County

VIOLATIONS = (
    "speeding",
    "overloading",
    "illegal_parking",
    "street_vending_blocking_road",
    "illegal_passenger_carrying",
    "unlicensed_vehicle_carrying_students",
)
NEEDS_PLATE = {"speeding", "overloading", "illegal_parking", "illegal_passenger_carrying"}
TOPICS = ("legal_education", "traffic_safety", "anti_bullying", "anti_fraud", "drug_prevention")
CAMPAIGN = "demo-school-run"
HAZARDS = ("traffic", "street_vending", "unlicensed_business", "food_safety", "building")
DEPARTMENTS = ("traffic_police", "market_regulation", "market_regulation", "health", "education")
SURNAMES = "王李张刘陈杨赵黄周吴"
DEG_PER_M = 1 / 111_200  # degrees of latitude per metre
PLANNED_SCHOOLS = 8  # the first schools of the county get a plan (一校一策)


class FieldWork:
    """One random piece of field work per `step`; answers other than 2xx are counted."""

    def __init__(
        self, *, county: County, patrols: str, reporting: str, jwt_secret: str, rng: random.Random
    ) -> None:
        self.county = county
        self.patrols = patrols
        self.reporting = reporting
        self.rng = rng
        self.jwt_secret = jwt_secret
        self.supervisor = self._auth("demo-supervisor", "supervisor")
        self.dispatcher = self._auth("demo-dispatcher", "dispatcher")
        self.done = 0
        self.errors = 0
        self.inside: list[tuple[str, str]] = []  # (school, visit) of visitors still inside

    def _auth(self, sub: str, role: str) -> dict[str, str]:
        token = issue_token(self.jwt_secret, sub=sub, role=role)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {token}"}

    async def _as_unit(
        self, client: httpx.AsyncClient, unit_id: str, what: str, body: dict[str, Any]
    ) -> httpx.Response:
        """POST `body` to the unit's `what` (violations, checkins), signed in as the unit."""
        url = f"{self.patrols}/v1/units/{unit_id}/{what}"
        return await client.post(url, json=body, headers=self._auth(unit_id, "unit"))

    async def open_campaign(self, client: httpx.AsyncClient) -> None:
        """The campaign the violations belong to (already there from an earlier run: fine)."""
        today = datetime.now(UTC).date()
        body = {
            "campaign_id": CAMPAIGN,
            "name": "上下学时段专项整治 (demo)",
            "starts_on": (today - timedelta(days=1)).isoformat(),
            "ends_on": (today + timedelta(days=30)).isoformat(),
        }
        response = await client.post(
            f"{self.patrols}/v1/campaigns", json=body, headers=self.supervisor
        )
        if response.status_code not in (201, 409):
            self.errors += 1

    async def plan_schools(self, client: httpx.AsyncClient) -> None:
        """A plan for the first schools (a school planned in an earlier run keeps its own)."""
        for school in self.county.schools[:PLANNED_SCHOOLS]:
            body = {
                "version": 0,
                "risks": self.rng.sample(
                    ["紧邻国道", "放学时段校门口拥堵", "周边流动摊贩", "围墙低矮"], 2
                ),
                "contacts": [
                    {"role": "保卫干部", "phone": f"0943-{self.rng.randint(5550000, 5559999)}"}
                ],
                "plan_refs": [f"会公〔2026〕{self.rng.randint(10, 99)}号"],
                "gate_notes": "北门为主出入口，南门常闭（钥匙在门卫室）",
                "building_notes": "教学楼东西两部楼梯",
            }
            response = await client.put(
                f"{self.patrols}/v1/schools/{school.school_id}/plan",
                json=body,
                headers=self.supervisor,
            )
            if response.status_code not in (200, 409):
                self.errors += 1

    async def step(self, client: httpx.AsyncClient) -> None:
        actions: list[Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]] = [
            self.violation,
            self.checkin,
            self.checkin,
            self.activity,
            self.hazard,
            self.video_check,
            self.community_check,
            self.gate_visitor,
        ]
        response = await self.rng.choice(actions)(client)
        if response.status_code in (200, 201, 202):
            self.done += 1
        else:
            self.errors += 1
            print(f"field work refused: {response.status_code} {response.text[:200]}", flush=True)

    async def violation(self, client: httpx.AsyncClient) -> httpx.Response:
        school = self.rng.choice(self.county.schools)
        units = [u for u in self.county.units if u.kind == "traffic_police"] or self.county.units
        unit = self.rng.choice(units)
        kind = self.rng.choice(VIOLATIONS)
        body: dict[str, Any] = {
            "violation_id": str(uuid.uuid4()),
            "kind": kind,
            "place": {"lat": school.lat, "lon": school.lon, "description": f"{school.name} 门口"},
            "school_id": school.school_id,
            "observed_at": datetime.now(UTC).isoformat(),
            "officer": f"{unit.callsign} 警官",
            "campaign_id": CAMPAIGN if self.rng.random() < 0.8 else None,
        }
        if kind in NEEDS_PLATE:
            body["plate"] = f"甘D{self.rng.randint(10000, 99999)}"
        return await self._as_unit(client, unit.unit_id, "violations", body)

    async def hazard(self, client: httpx.AsyncClient) -> httpx.Response:
        """A unit reports a hazard; most are assigned to a department at once."""
        school = self.rng.choice(self.county.schools)
        unit = self.rng.choice(self.county.units)
        n = self.rng.randrange(len(HAZARDS))
        body = {
            "hazard_id": str(uuid.uuid4()),
            "school_id": school.school_id,
            "kind": HAZARDS[n],
            "place": {"lat": school.lat, "lon": school.lon, "description": f"{school.name} 周边"},
            "found_by": self.rng.choice(("patrol", "inspection", "video_check")),
            "description": "巡逻发现，需相关部门整改",
        }
        reported = await client.post(
            f"{self.patrols}/v1/hazards", json=body, headers=self._auth(unit.unit_id, "unit")
        )
        if reported.status_code != 201 or self.rng.random() < 0.3:
            return reported
        deadline = datetime.now(UTC) + timedelta(days=self.rng.randint(1, 14))
        assignment = {"version": 1, "department": DEPARTMENTS[n], "deadline": deadline.isoformat()}
        assigned = await client.post(
            f"{self.patrols}/v1/hazards/{body['hazard_id']}/assign",
            json=assignment,
            headers=self.supervisor,
        )
        return reported if assigned.status_code == 200 else assigned

    async def video_check(self, client: httpx.AsyncClient) -> httpx.Response:
        """The command centre looks at a school's gate, its guard post in view."""
        post = self.rng.choice([p for p in self.county.patrol_points if p.kind == "stop"])
        body = {
            "check_id": str(uuid.uuid4()),
            "school_id": post.school_id,
            "post_id": post.point_id,
            "at": datetime.now(UTC).isoformat(),
            "officer_on_post": self.rng.random() < 0.85,
            "traffic": self.rng.choice(("smooth", "smooth", "smooth", "congested", "blocked")),
            "patrol_seen": self.rng.random() < 0.5,
            "snapshot": f"cam-{post.school_id}-gate/{datetime.now(UTC):%H%M%S}.jpg",
        }
        return await client.post(
            f"{self.patrols}/v1/video-checks", json=body, headers=self.dispatcher
        )

    async def community_check(self, client: httpx.AsyncClient) -> httpx.Response:
        """A unit checks rental housing or a hotel about 150 m from a school; its people are
        made up, with identity numbers that pass the check character and belong to nobody."""
        school = self.rng.choice(self.county.schools)
        hotel = self.rng.random() < 0.3
        people = [
            self._person("guest" if hotel else "tenant") for _ in range(self.rng.randint(1, 4))
        ]
        items = ["guest_register" if hotel else "tenant_register", "fire_safety"]
        body = {
            "check_id": str(uuid.uuid4()),
            "premises_kind": "hotel" if hotel else "rental_housing",
            "premises_name": f"{school.township}宾馆" if hotel else None,
            "address": f"{school.name}北侧{self.rng.randint(1, 40)}号",
            "lat": school.lat + 150 * DEG_PER_M,
            "lon": school.lon,
            "at": datetime.now(UTC).isoformat(),
            "checked": items,
            "failed": items[:1] if any(not p["registered"] for p in people) else [],
            "people": people,
            "issues": (
                [{"kind": "fire_safety", "description": "楼道堆放杂物", "hazard": True}]
                if self.rng.random() < 0.2
                else []
            ),
        }
        unit = self.rng.choice(self.county.units)
        return await client.post(
            f"{self.patrols}/v1/community-checks",
            json=body,
            headers=self._auth(unit.unit_id, "unit"),
        )

    async def gate_visitor(self, client: httpx.AsyncClient) -> httpx.Response:
        """A school's gate logs a visitor in, or one of those inside out."""
        if self.inside and self.rng.random() < 0.5:
            school_id, visit_id = self.inside.pop(self.rng.randrange(len(self.inside)))
            url = f"{self.patrols}/v1/schools/{school_id}/visitors/{visit_id}/out"
            body: dict[str, Any] = {"left_at": datetime.now(UTC).isoformat()}
            return await client.post(url, json=body, headers=self._auth(school_id, "school"))
        school = self.rng.choice(self.county.schools)
        body = {
            "visit_id": str(uuid.uuid4()),
            "name": self.rng.choice(SURNAMES) + "某",
            "purpose": self.rng.choice(("parent", "parent", "delivery", "contractor", "official")),
            "host": self.rng.choice(("教务处", "总务处", "三年级", "门卫室")),
            "id_checked": True,
            "arrived_at": datetime.now(UTC).isoformat(),
        }
        url = f"{self.patrols}/v1/schools/{school.school_id}/visitors"
        answer = await client.post(url, json=body, headers=self._auth(school.school_id, "school"))
        if answer.status_code == 201:
            self.inside.append((school.school_id, body["visit_id"]))
        return answer

    def _person(self, role: str) -> dict[str, Any]:
        first17 = f"999999{self.rng.randint(1960, 2005)}0101{self.rng.randint(0, 999):03d}"
        return {
            "role": role,
            "name": self.rng.choice(SURNAMES) + "某",
            "id_number": first17 + id_check_character(first17),
            "registered": self.rng.random() < 0.8,
            "newly_arrived": self.rng.random() < 0.3,
        }

    async def checkin(self, client: httpx.AsyncClient) -> httpx.Response:
        point = self.rng.choice(self.county.patrol_points)
        unit = self.rng.choice(self.county.units)
        body = {
            "checkin_id": str(uuid.uuid4()),
            "point_id": point.point_id,
            "lat": point.lat,
            "lon": point.lon,
            "at": datetime.now(UTC).isoformat(),
        }
        return await self._as_unit(client, unit.unit_id, "checkins", body)

    async def activity(self, client: httpx.AsyncClient) -> httpx.Response:
        school = self.rng.choice(self.county.schools)
        kind = self.rng.choice(("inspection", "session", "session", "letters", "drill"))
        details: dict[str, Any]
        if kind == "inspection":
            details = {"items": {item: self.rng.random() < 0.93 for item in INSPECTION_ITEMS}}
        elif kind == "session":
            details = {"topic": self.rng.choice(TOPICS), "audience": self.rng.randint(40, 600)}
        elif kind == "letters":
            details = {"topic": "traffic_safety", "letters": self.rng.randint(100, 1500)}
        else:
            details = {"scenario": "intruder", "participants": self.rng.randint(100, 900)}
        body = {
            "activity_id": str(uuid.uuid4()),
            "school_id": school.school_id,
            "held_at": datetime.now(UTC).isoformat(),
            "activity": {"kind": kind, **details},
        }
        return await client.post(
            f"{self.reporting}/v1/activities", json=body, headers=self.supervisor
        )
