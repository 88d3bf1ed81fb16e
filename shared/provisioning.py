"""The county's schools, devices, units and patrol points (contract DESIGN §5.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from shared.events import SchoolRef
from shared.signing import derive_device_secret

UnitKind = Literal[
    "patrol_car", "foot_patrol", "traffic_police", "station_officer", "guard_post", "special_patrol"
]
PointKind = Literal["must_reach", "must_patrol", "stop"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class School(_Strict):
    school_id: str = Field(..., min_length=1, max_length=64)
    name: str
    township: str
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)
    contact_phone: str | None = Field(
        None,
        pattern=r"^\+?[0-9][0-9 -]{4,19}$",
        description="Told by SMS that help is on the way (audible alarms only)",
    )

    def ref(self) -> SchoolRef:
        return SchoolRef(
            school_id=self.school_id,
            name=self.name,
            township=self.township,
            lat=self.lat,
            lon=self.lon,
        )


class Device(_Strict):
    device_id: str = Field(..., min_length=1, max_length=64)
    school_id: str
    secret: SecretStr | None = Field(None, description="Omitted: derived from DEVICE_KEY_SEED")


class Unit(_Strict):
    unit_id: str = Field(..., min_length=1, max_length=64)
    kind: UnitKind
    callsign: str
    station: str
    home_lat: float = Field(..., ge=-90, le=90)
    home_lon: float = Field(..., ge=-180, le=180)


class PatrolPoint(_Strict):
    point_id: str
    school_id: str
    kind: PointKind
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)
    radius_m: float = Field(..., gt=0, le=2000)


class County(_Strict):
    name: str
    timezone: str = Field(
        "Asia/Shanghai", description="IANA time zone of the county: local times in exports"
    )
    schools: list[School]
    devices: list[Device]
    units: list[Unit]
    patrol_points: list[PatrolPoint] = []

    _schools: dict[str, School] = PrivateAttr(default_factory=dict)
    _units: dict[str, Unit] = PrivateAttr(default_factory=dict)
    _points: dict[str, PatrolPoint] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._schools = {s.school_id: s for s in self.schools}
        self._units = {u.unit_id: u for u in self.units}
        self._points = {p.point_id: p for p in self.patrol_points}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _zone_known(self) -> County:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        return self

    @model_validator(mode="after")
    def _references_hold(self) -> County:
        for label, ids in (
            ("school", [s.school_id for s in self.schools]),
            ("device", [d.device_id for d in self.devices]),
            ("unit", [u.unit_id for u in self.units]),
            ("patrol point", [p.point_id for p in self.patrol_points]),
        ):
            if len(ids) != len(set(ids)):
                raise ValueError(f"duplicate {label} id")
        schools = {s.school_id for s in self.schools}
        refs = [(d.device_id, d.school_id) for d in self.devices]
        refs += [(p.point_id, p.school_id) for p in self.patrol_points]
        for item_id, school_id in refs:
            if school_id not in schools:
                raise ValueError(f"{item_id} names unknown school {school_id}")
        return self

    def school(self, school_id: str) -> School | None:
        return self._schools.get(school_id)

    def unit(self, unit_id: str) -> Unit | None:
        return self._units.get(unit_id)

    def point(self, point_id: str) -> PatrolPoint | None:
        return self._points.get(point_id)


# libyaml's parser, which PyYAML's wheels carry: a province's file is some hundred times the
# sample county's (docs/benchmarks.md).
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_county(path: Path) -> County:
    """Parse and validate a provisioning file (YAML or JSON, which YAML reads too)."""
    with path.open(encoding="utf-8") as fh:
        return County.model_validate(yaml.load(fh, Loader=YAML_LOADER))  # noqa: S506 - a safe loader


def device_secrets(county: County, seed: str | None) -> dict[str, str]:
    """Every device's secret: from the file, else derived from the seed."""
    secrets: dict[str, str] = {}
    for device in county.devices:
        if device.secret is not None:
            secrets[device.device_id] = device.secret.get_secret_value()
        elif seed:
            secrets[device.device_id] = derive_device_secret(seed, device.device_id)
        else:
            raise RuntimeError(
                f"device {device.device_id} has no secret and DEVICE_KEY_SEED is not set"
            )
    return secrets
