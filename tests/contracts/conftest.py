"""Each repository's contract, run twice: against its in-memory fake (tests/fakes) and against
the MongoDB-protocol server over TCP, so the fake the unit tests trust cannot drift from what
it stands for."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.alarms.repository import AlarmRepository, MongoAlarmRepository
from services.notifications.repository import MongoNotificationRepository, NotificationRepository
from services.patrols.repository import MongoPatrolRepository, PatrolRepository
from services.reporting.repository import MongoReportingRepository, ReportingRepository
from tests.conftest import MONGODB_URL
from tests.fakes.alarms import InMemoryAlarmRepository
from tests.fakes.notifications import InMemoryNotificationRepository
from tests.fakes.patrols import InMemoryPatrolRepository
from tests.fakes.reporting import InMemoryReportingRepository

Database = AsyncDatabase[dict[str, Any]]


@pytest.fixture(params=["fake", "mongodb"])
async def database(request: pytest.FixtureRequest) -> AsyncIterator[Database | None]:
    """None for the fake; else a database of its own on the server, dropped afterwards."""
    if request.param == "fake":
        yield None
        return
    request.getfixturevalue("servers")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    name = f"contract{uuid.uuid4().hex[:10]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


# each repository: its fake, and its MongoDB implementation
REPOSITORIES: dict[str, tuple[Callable[[], Any], Callable[[Database], Any]]] = {
    "alarms": (InMemoryAlarmRepository, MongoAlarmRepository),
    "notifications": (InMemoryNotificationRepository, MongoNotificationRepository),
    "patrols": (InMemoryPatrolRepository, MongoPatrolRepository),
    "reporting": (InMemoryReportingRepository, MongoReportingRepository),
}


async def _repository(service: str, database: Database | None) -> Any:
    fake, real = REPOSITORIES[service]
    repo = fake() if database is None else real(database)
    await repo.ensure_indexes()
    return repo


@pytest.fixture
async def alarms_repo(database: Database | None) -> AlarmRepository:
    repo: AlarmRepository = await _repository("alarms", database)
    return repo


@pytest.fixture
async def notifications_repo(database: Database | None) -> NotificationRepository:
    repo: NotificationRepository = await _repository("notifications", database)
    return repo


@pytest.fixture
async def patrols_repo(database: Database | None) -> PatrolRepository:
    repo: PatrolRepository = await _repository("patrols", database)
    return repo


@pytest.fixture
async def reporting_repo(database: Database | None) -> ReportingRepository:
    repo: ReportingRepository = await _repository("reporting", database)
    return repo
