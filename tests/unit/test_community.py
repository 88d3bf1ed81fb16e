"""Community checks (社区警务): premises near a school only; identity numbers checked, then kept
only hashed with a key and masked; issues reported as hazards once; each check published once
as counts; every read that shows people audited; personal fields erased after retention."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.patrols import community_service
from services.patrols.community import CommunityCheckRequest, MatchRequest
from services.patrols.community_service import CheckRefused
from services.patrols.deps import CommunityRules, Deps
from services.patrols.personal import hash_id, mask_id, mask_name, mask_phone
from shared.auth import Principal
from shared.errors import InvalidInput
from shared.events import CommunityCheckRecorded
from shared.provisioning import County
from shared.topics import Topics
from tests.community import check_body, resident_id
from tests.fakes.patrols import InMemoryPatrolRepository
from tests.unit.test_patrols_service import make_deps

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
CHIEF = Principal(sub="li", role="supervisor")
OFFICER = Principal(sub="U001", role="unit")


def tenant(name: str, number: str) -> dict[str, object]:
    return {"role": "tenant", "name": name, "id_number": number, "registered": True}


def request(**fields: object) -> CommunityCheckRequest:
    body = check_body(at=(NOW - timedelta(minutes=10)).isoformat()) | fields
    return CommunityCheckRequest.model_validate(body)


def published(deps: Deps) -> list[CommunityCheckRecorded]:
    events = deps.publisher.events(Topics().patrols_community_checks)  # type: ignore[attr-defined]
    return [e for e in events if isinstance(e, CommunityCheckRecorded)]


def repo(deps: Deps) -> InMemoryPatrolRepository:
    assert isinstance(deps.repo, InMemoryPatrolRepository)
    return deps.repo


def test_an_identity_number_is_refused_unless_its_check_character_matches() -> None:
    good = resident_id(7)
    assert CommunityCheckRequest.model_validate(check_body()).people[0].id_number
    lower = good[:17] + good[17].lower()
    body = check_body(people=[tenant("赵", lower)])
    assert CommunityCheckRequest.model_validate(body).people[0].id_number == good.upper()
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    for number, says in [(wrong, "check character"), ("62052219900101", "18-character")]:
        with pytest.raises(ValidationError, match=says):
            CommunityCheckRequest.model_validate(check_body(people=[tenant("赵", number)]))


def test_masks_show_enough_to_tell_people_apart_and_the_hash_needs_the_key() -> None:
    number = resident_id(11)
    assert mask_id(number) == number[:3] + "*" * 11 + number[-4:]
    assert (mask_name("王小明"), mask_name("李")) == ("王**", "李*")
    assert mask_phone("138-0000-1234") == "138****1234"
    assert hash_id(b"k1", number) == hash_id(b"k1", number) != hash_id(b"k2", number)
    assert number not in hash_id(b"k1", number)


async def test_a_check_is_kept_without_the_number_and_published_once_as_counts(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    body = request()
    first = await community_service.record(deps=deps, request=body, actor="U001", now=NOW)
    again = await community_service.record(deps=deps, request=body, actor="U001", now=NOW)
    assert first == again and first.people_shown is None
    assert (first.school.school_id, round(first.distance_m)) == ("S001", 100)
    (event,) = published(deps)
    assert (event.people, event.unregistered, event.newly_arrived, event.issues) == (2, 1, 1, 2)
    assert event.failed == ["tenant_register"] and len(event.hazard_ids) == 1
    assert "王小明" not in event.model_dump_json()
    stored = repo(deps).community_records[body.check_id]
    for number in (resident_id(11), resident_id(12)):
        assert number not in stored.model_dump_json()
    assert stored.people[0].id_hash == hash_id(deps.community.pii_key, resident_id(11))
    (hazard,) = repo(deps).hazard_records.values()
    assert (hazard.kind, hazard.found_by, hazard.place.description) == (
        "fire_safety",
        "inspection",
        "会师镇东街12号3单元",
    )
    other = request(check_id=str(body.check_id), address="别处")
    with pytest.raises(CheckRefused):
        await community_service.record(deps=deps, request=other, actor="U001", now=NOW)
    assert len(published(deps)) == 1 and len(repo(deps).hazard_records) == 1


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"lat": 35.70}, "lat"),  # 3 km from any school
        ({"failed": ["guest_register"]}, "failed"),
        ({"checked": ["fire_safety", "fire_safety"], "failed": []}, "checked"),
        ({"at": (NOW + timedelta(hours=1)).isoformat()}, "at"),
        (
            {
                "people": [
                    {
                        "role": "tenant",
                        "name": "甲",
                        "id_number": resident_id(3),
                        "registered": True,
                    },
                    {
                        "role": "tenant",
                        "name": "乙",
                        "id_number": resident_id(3),
                        "registered": True,
                    },
                ]
            },
            "people",
        ),
    ],
)
async def test_a_check_that_cannot_be_true_is_refused_naming_the_field_with_nothing_kept(
    county: County, registry: CollectorRegistry, fields: dict[str, object], named: str
) -> None:
    deps = make_deps(county, registry)
    with pytest.raises(InvalidInput) as refused:
        await community_service.record(deps=deps, request=request(**fields), actor="U1", now=NOW)
    assert named in str(refused.value.errors)
    assert not repo(deps).community_records and not repo(deps).hazard_records
    assert not published(deps)


async def test_every_read_that_shows_people_is_audited_and_masks_unless_in_clear(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    body = request()
    await community_service.record(deps=deps, request=body, actor="U001", now=NOW)
    masked = await community_service.get(
        deps=deps, check_id=body.check_id, principal=OFFICER, people="masked", purpose=None, now=NOW
    )
    assert masked is not None and masked.people_shown is not None
    assert [p.name for p in masked.people_shown] == ["王**", "李*"]
    assert masked.people_shown[0].phone == "138****1234"
    assert masked.people_shown[0].id_masked == mask_id(resident_id(11))
    clear = await community_service.get(
        deps=deps, check_id=body.check_id, principal=CHIEF, people="clear", purpose="复查", now=NOW
    )
    assert clear is not None and clear.people_shown is not None
    assert [p.name for p in clear.people_shown] == ["王小明", "李四"]
    found = await community_service.match(
        deps=deps,
        request=MatchRequest(id_number=resident_id(12), purpose="核查流动人口"),
        principal=CHIEF,
        now=NOW,
    )
    assert [(f.check_id, f.person.name, f.person.registered) for f in found] == [
        (body.check_id, "李*", False)
    ]
    reads = [(r.actor, r.action, r.purpose, r.check_ids) for r in repo(deps).read_records]
    assert reads == [
        ("U001", "check", None, [body.check_id]),
        ("li", "people", "复查", [body.check_id]),
        ("li", "match", "核查流动人口", [body.check_id]),
    ]
    missing = await community_service.get(
        deps=deps, check_id=uuid.uuid4(), principal=CHIEF, people="masked", purpose=None, now=NOW
    )
    assert missing is None and len(repo(deps).read_records) == 3


async def test_personal_fields_are_erased_after_retention_and_the_counts_stay(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    deps = Deps(**(vars(deps) | {"community": CommunityRules(pii_key=b"k" * 32)}))
    old, new = request(at=(NOW - timedelta(days=181)).isoformat()), request()
    for body in (old, new):
        await community_service.record(deps=deps, request=body, actor="U001", now=NOW)
    assert await community_service.erase_expired(deps=deps, now=NOW) == 1
    assert await community_service.erase_expired(deps=deps, now=NOW) == 0
    erased = repo(deps).community_records[old.check_id]
    assert erased.erased_at == NOW
    for person in erased.people:
        assert (person.name, person.phone, person.id_hash, person.id_masked) == (None,) * 4
    assert [p.registered for p in erased.people] == [True, False]
    view = erased.view(people="masked")
    assert view.people == 2 and view.people_shown and all(p.erased for p in view.people_shown)
    kept = repo(deps).community_records[new.check_id]
    assert kept.erased_at is None and kept.people[0].name == "王小明"
    match = MatchRequest(id_number=resident_id(11), purpose="核查")
    found = await community_service.match(deps=deps, request=match, principal=CHIEF, now=NOW)
    assert [f.check_id for f in found] == [new.check_id]


async def test_a_check_stored_but_not_published_is_published_by_the_relay(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    body = request()
    await community_service.record(deps=deps, request=body, actor="U001", now=NOW)
    repo(deps).community_unpublished.add(body.check_id)  # as if it crashed before marking
    assert await community_service.relay(deps=deps, now=NOW) == 1
    assert await community_service.relay(deps=deps, now=NOW) == 0
    events = published(deps)
    assert len(events) == 2 and events[0].event_id == events[1].event_id  # one fact, deduped
