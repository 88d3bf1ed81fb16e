"""The province generator writes what the reporting service would have stored."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from services.reporting import tallies
from services.reporting.models import AlarmFact
from services.reporting.repository import CAMPAIGNS, RECORD_KINDS
from shared.mongo import to_document
from shared.provisioning import County
from tools import gen_province

DAY = date(2026, 3, 3)  # a school day


def _year(scale: float = 0.01) -> tuple[dict[str, Any], gen_province.Year]:
    county = gen_province.province(scale)
    year = gen_province.Year(
        rng=random.Random(1),
        schools=county["schools"],
        units=[u["unit_id"] for u in county["units"]],
        year=2026,
        scale=scale,
    )
    return county, year


def test_the_province_is_a_valid_provisioning_file_of_the_size_asked() -> None:
    county = County.model_validate(gen_province.province(0.1))
    assert len(county.schools) == 1500
    assert len(county.units) == 500
    assert len({s.township for s in county.schools}) == 774
    assert len(county.patrol_points) == 3 * 1500


def test_every_record_is_the_document_the_service_stores_for_its_event() -> None:
    _, year = _year()
    found: dict[str, list[Any]] = {}
    for n in range(14):  # days after the first: restorals of troubles raised before
        for name, documents in gen_province.day_of(year, date(2026, 3, 2 + n)).items():
            found.setdefault(name, []).extend(documents)
    kinds = {kind.collection: kind for kind in (*RECORD_KINDS, CAMPAIGNS)}
    for name, documents in found.items():
        if name == "alarm_facts":
            for doc in documents:
                AlarmFact.model_validate(doc | {"alarm_id": doc["_id"]})
            continue
        kind = kinds[name]
        assert documents or name in (CAMPAIGNS.collection,), name
        for doc in documents:
            stored = {k: v for k, v in doc.items() if k != "_id"}
            event = kind.model.model_validate(stored)
            assert to_document(event) == stored, name
            assert doc["_id"] == kind.key(event), name
    assert any(t["status"] == "restored" for t in found["device_troubles"])


def test_roll_ups_of_a_day_and_its_month_count_every_record() -> None:
    _, year = _year()
    days = [DAY, date(2026, 3, 4)]
    records = [gen_province.day_of(year, day) for day in days]
    rolled = [
        gen_province.day_rollups(found, day) for found, day in zip(records, days, strict=True)
    ]
    first = rolled[0]["coverage_days"]
    checkins = sum(d["all_checkins"] + d["all_flagged"] for d in first)
    assert checkins == len(records[0]["checkins"]) > 0
    windows = sum(d[f"{w}_windows"] for d in rolled[0]["guard_days"] for w in tallies.WINDOWS)
    assert windows == len(records[0]["guard_windows"]) > 0
    months = gen_province.Buckets("months")
    for found in rolled:
        months.add(found)
    closed = months.close("2026-03")
    assert {d["bucket"] for d in closed["coverage_months"]} == {"2026-03"}
    month_days = sum(d["all_days"] for d in closed["coverage_months"])
    assert month_days == sum(d["all_days"] for r in rolled for d in r["coverage_days"])
    month_windows = sum(d[f"{w}_windows"] for d in closed["guard_months"] for w in tallies.WINDOWS)
    assert month_windows == sum(len(found["guard_windows"]) for found in records)
