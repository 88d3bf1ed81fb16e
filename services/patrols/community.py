"""Community checks (社区警务) of rental housing and hotels near schools: what an officer sends,
what patrols keeps (people protected as services.patrols.personal says), and what is shown."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.patrols.personal import (
    ResidentId,
    hash_id,
    mask_id,
    mask_name,
    mask_phone,
)
from shared.events import SchoolRef
from shared.events.community import (
    CheckItem,
    CommunityCheckRecorded,
    PersonRole,
    PremisesKind,
)
from shared.events.hazards import HazardKind
from shared.inputs import Moment

PHONE_PATTERN = r"^\+?[0-9][0-9 -]{4,19}$"


class PersonIn(BaseModel):
    """Someone met at the premises, or on its register."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: PersonRole
    name: str = Field(..., min_length=1, max_length=40)
    id_number: ResidentId | None = Field(
        None, description="Resident identity number: checked, then kept only hashed and masked"
    )
    phone: str | None = Field(None, pattern=PHONE_PATTERN)
    registered: bool = Field(..., description="Registered with the police (已登记)")
    newly_arrived: bool = Field(False, description="Newly arrived in the area (流动人口)")


class IssueIn(BaseModel):
    """Something the officer found wrong; `hazard` reports it as a hazard (隐患) there."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: HazardKind
    description: str = Field(..., min_length=1, max_length=1000)
    hazard: bool = False


class CommunityCheckRequest(BaseModel):
    """Body of `POST /v1/community-checks`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check_id: uuid.UUID = Field(..., description="Made by the client; send it again to retry")
    premises_kind: PremisesKind
    premises_name: str | None = Field(None, max_length=100, description="A hotel's name")
    address: str = Field(..., min_length=1, max_length=200)
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)
    at: Moment = Field(..., description="When the check was made")
    checked: list[CheckItem] = Field(default_factory=list, max_length=6)
    failed: list[CheckItem] = Field(
        default_factory=list, max_length=6, description="Of the items checked, those not met"
    )
    people: list[PersonIn] = Field(default_factory=list, max_length=200)
    issues: list[IssueIn] = Field(default_factory=list, max_length=20)
    note: str | None = Field(None, max_length=1000)


class StoredPerson(BaseModel):
    """A person as patrols keeps them: the personal fields are None once erased."""

    role: PersonRole
    registered: bool
    newly_arrived: bool
    name: str | None = None
    phone: str | None = None
    id_hash: str | None = None
    id_masked: str | None = None

    @classmethod
    def of(cls, person: PersonIn, key: bytes) -> StoredPerson:
        number = person.id_number
        return cls(
            role=person.role,
            registered=person.registered,
            newly_arrived=person.newly_arrived,
            name=person.name,
            phone=person.phone,
            id_hash=None if number is None else hash_id(key, number),
            id_masked=None if number is None else mask_id(number),
        )

    def erased(self) -> StoredPerson:
        return StoredPerson(
            role=self.role, registered=self.registered, newly_arrived=self.newly_arrived
        )

    def view(self, *, clear: bool) -> PersonView:
        """Masked, or (`clear`) with name and phone as recorded."""
        name, phone = self.name, self.phone
        if not clear:
            name = None if name is None else mask_name(name)
            phone = None if phone is None else mask_phone(phone)
        return PersonView(
            role=self.role,
            registered=self.registered,
            newly_arrived=self.newly_arrived,
            name=name,
            phone=phone,
            id_masked=self.id_masked,
            erased=self.name is None,
        )


class PersonView(BaseModel):
    role: PersonRole
    registered: bool
    newly_arrived: bool
    name: str | None = Field(None, description="Masked (张*) unless read in clear")
    phone: str | None = Field(None, description="Masked unless read in clear")
    id_masked: str | None = Field(None, description="First three and last four characters")
    erased: bool = Field(..., description="The retention period is over: personal fields gone")


class CommunityCheck(BaseModel):
    """A check as patrols keeps it (collection community_checks)."""

    check_id: uuid.UUID
    school: SchoolRef
    distance_m: float
    premises_kind: PremisesKind
    premises_name: str | None
    address: str
    lat: float
    lon: float
    checked_at: AwareDatetime
    checked: list[CheckItem]
    failed: list[CheckItem]
    people: list[StoredPerson]
    issues: list[IssueIn]
    hazard_ids: list[uuid.UUID]
    note: str | None
    checked_by: str
    digest: str = Field(..., description="Keyed digest of the request: a retry is the same")
    erased_at: AwareDatetime | None = None

    def erased(self, *, at: datetime) -> CommunityCheck:
        """The check once its retention period is over: its people without personal fields."""
        return self.model_copy(
            update={"people": [p.erased() for p in self.people], "erased_at": at}
        )

    def event(self) -> CommunityCheckRecorded:
        return CommunityCheckRecorded(
            event_id=uuid.uuid5(self.check_id, "recorded"),
            occurred_at=self.checked_at,
            check_id=self.check_id,
            school=self.school,
            distance_m=self.distance_m,
            premises_kind=self.premises_kind,
            checked_at=self.checked_at,
            checked=self.checked,
            failed=self.failed,
            people=len(self.people),
            unregistered=sum(not p.registered for p in self.people),
            newly_arrived=sum(p.newly_arrived for p in self.people),
            issues=len(self.issues),
            hazard_ids=self.hazard_ids,
            checked_by=self.checked_by,
        )

    def view(self, *, people: Literal["none", "masked", "clear"]) -> CommunityCheckView:
        shown = None if people == "none" else [p.view(clear=people == "clear") for p in self.people]
        return CommunityCheckView(
            **self.event().model_dump(),
            premises_name=self.premises_name,
            address=self.address,
            lat=self.lat,
            lon=self.lon,
            issue_list=self.issues,
            note=self.note,
            erased_at=self.erased_at,
            people_shown=shown,
        )


class CommunityCheckView(CommunityCheckRecorded):
    """A check as the API shows it: people masked, or in clear to a supervisor with a purpose,
    or (in lists) only counted."""

    premises_name: str | None
    address: str
    lat: float
    lon: float
    issue_list: list[IssueIn]
    note: str | None
    erased_at: datetime | None = Field(None, description="When personal fields were erased")
    people_shown: list[PersonView] | None = Field(
        None, description="The people (absent in lists: read one check to see them)"
    )


class MatchRequest(BaseModel):
    """Body of `POST /v1/community-checks/match`: the number travels in a body, never a URL."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: ResidentId
    purpose: str = Field(..., min_length=2, max_length=200, description="Why: kept in the audit")


class PersonSeen(BaseModel):
    """One check that recorded the person matched."""

    check_id: uuid.UUID
    school: SchoolRef
    premises_kind: PremisesKind
    address: str
    checked_at: datetime
    person: PersonView


ReadAction = Literal["check", "people", "match"]


class PersonRead(BaseModel):
    """An audited read of people's records (collection person_reads)."""

    read_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    at: AwareDatetime
    actor: str
    role: str
    action: ReadAction = Field(
        ..., description="check: one check, masked; people: in clear; match: by identity number"
    )
    check_ids: list[uuid.UUID]
    purpose: str | None = None
