"""Each repository's contract, run twice: against its in-memory fake (tests/fakes) and against
the MongoDB-protocol server over TCP, so the fake the unit tests trust cannot drift from what
it stands for."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.alarms.live_tests_repository import MongoLiveTestRepository
from services.alarms.repository import MongoAlarmRepository
from services.alarms.supervision_repository import MongoSupervisionRepository
from services.notifications.repository import MongoNotificationRepository
from services.patrols.repository import MongoPatrolRepository
from services.reporting.repository import MongoReportingRepository
from tests.conftest import MONGODB_URL
from tests.fakes.alarms import InMemoryAlarmRepository
from tests.fakes.live_tests import InMemoryLiveTestRepository
from tests.fakes.notifications import InMemoryNotificationRepository
from tests.fakes.patrols import InMemoryPatrolRepository
from tests.fakes.reporting import InMemoryReportingRepository
from tests.fakes.supervision import InMemorySupervisionRepository

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
    # S3 left out: its records have ledgers of their own (services/reporting/ledgers.py)
    "reporting": (
        InMemoryReportingRepository,
        partial(MongoReportingRepository, townships={"S1": "T1", "S2": "T1"}),
    ),
    "supervision": (InMemorySupervisionRepository, MongoSupervisionRepository),
    "live_tests": (InMemoryLiveTestRepository, MongoLiveTestRepository),
}


@pytest.fixture
async def repo(request: pytest.FixtureRequest, database: Database | None) -> Any:
    """The repository of the test module's SERVICE: its fake, or over the server."""
    fake, real = REPOSITORIES[request.module.SERVICE]
    repository = fake() if database is None else real(database)
    await repository.ensure_indexes()
    return repository
