from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.provisioning import County, device_secrets, load_county
from shared.signing import derive_device_secret

SCHOOL = {"school_id": "S1", "name": "一中", "township": "会师镇", "lat": 35.7, "lon": 105.0}
UNIT = {
    "unit_id": "U1",
    "kind": "patrol_car",
    "callsign": "c",
    "station": "s",
    "home_lat": 35.7,
    "home_lon": 105.0,
}


def test_sample_county_matches_the_design(county_file: Path) -> None:
    county = load_county(county_file)
    assert len(county.schools) == 60
    assert 40 <= len(county.units) <= 45
    assert all(
        1 <= sum(d.school_id == s.school_id for d in county.devices) <= 2 for s in county.schools
    )
    for school in county.schools:  # around the county seat, 35.69 N 105.05 E
        assert abs(school.lat - 35.69) < 0.3 and abs(school.lon - 105.05) < 0.3
    assert all(d.secret is None for d in county.devices), "no secrets in the repository"


def test_unknown_school_reference_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown school S9"):
        County(
            name="c", schools=[SCHOOL], devices=[{"device_id": "D", "school_id": "S9"}], units=[]
        )


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValidationError, match="duplicate unit id"):
        County(name="c", schools=[SCHOOL], devices=[], units=[UNIT, UNIT])


def test_out_of_range_coordinates_are_refused() -> None:
    with pytest.raises(ValidationError, match="lat"):
        County(name="c", schools=[SCHOOL | {"lat": 200}], devices=[], units=[])


def test_secrets_come_from_file_or_seed_and_are_required() -> None:
    county = County(
        name="c",
        schools=[SCHOOL],
        devices=[
            {"device_id": "D1", "school_id": "S1", "secret": "s3cret"},
            {"device_id": "D2", "school_id": "S1"},
        ],
        units=[],
    )
    secrets = device_secrets(county, "seed")
    assert secrets == {"D1": "s3cret", "D2": derive_device_secret("seed", "D2")}
    assert "s3cret" not in repr(county)
    with pytest.raises(RuntimeError, match="DEVICE_KEY_SEED"):
        device_secrets(county, None)
