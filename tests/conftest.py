"""Fixtures: the real servers (Kafka, MongoDB protocol) and an isolated namespace per test.

KAFKA_BOOTSTRAP and MONGODB_URL point the suite at other servers (a real MongoDB, say);
by default it uses the embedded ones `deploy/local/infra.sh start` runs.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from shared.auth import Role, issue_token
from shared.settings import ROOT
from shared.signing import derive_device_secret
from shared.topics import Topics
from tests.helpers import EverySetting, encode, press_body, signed_headers

KAFKA_BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092")
MONGODB_URL = os.environ.get(
    "MONGODB_URL", "mongodb://127.0.0.1:27027/?directConnection=true&retryWrites=false"
)
SERVICES = ("alarms", "patrols", "notifications", "reporting")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder: unit, contract, integration or e2e."""
    for item in items:
        for folder, kind in (
            ("unit", "unit"),
            ("contracts", "contract"),
            ("integration", "integration"),
            ("e2e", "e2e"),
        ):
            if f"{os.sep}tests{os.sep}{folder}{os.sep}" in str(item.path):
                item.add_marker(getattr(pytest.mark, kind))


def _reachable(host_port: str) -> bool:
    host, _, port = host_port.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def servers() -> tuple[str, str]:
    """The broker and the database; fails clearly when they are not running."""
    mongo_host = MONGODB_URL.split("//", 1)[1].split("/", 1)[0].split("@")[-1]
    missing = [
        name
        for name, target in (("Kafka", KAFKA_BOOTSTRAP), ("MongoDB", mongo_host))
        if not _reachable(target)
    ]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not reachable; run `make test` "
            "(or `deploy/local/infra.sh start`) first",
            pytrace=False,
        )
    return KAFKA_BOOTSTRAP, MONGODB_URL


@dataclass(frozen=True)
class Namespace:
    """Topics, consumer groups and databases of one test, with its own secrets."""

    name: str
    jwt_secret: str
    device_seed: str
    pii_key: str

    @property
    def topics(self) -> Topics:
        return Topics(f"{self.name}.")

    @property
    def db_prefix(self) -> str:
        return f"{self.name}_"

    def env(self) -> dict[str, str]:
        """Environment for service processes."""
        return {
            "KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP,
            "MONGODB_URL": MONGODB_URL,
            "TOPIC_PREFIX": self.topics.prefix,
            "MONGODB_DB_PREFIX": self.db_prefix,
            "JWT_SECRET": self.jwt_secret,
            "DEVICE_KEY_SEED": self.device_seed,
            "PII_KEY": self.pii_key,
            "COUNTY_FILE": str(ROOT / "deploy" / "county.yaml"),
            "LOG_LEVEL": "INFO",
            # buttons here beat only where a test makes them (tests/e2e/test_supervision.py):
            # elsewhere their silence would put troubles in feeds that tests read
            "OFFLINE_AFTER_S": "86400",
        }

    def settings(self, **overrides: object) -> EverySetting:
        """Settings of an app run in the test's process, with a press journal of its own."""
        journal = Path(tempfile.gettempdir()) / f"safecampus-journal-{self.name}"
        values = {k.lower(): v for k, v in self.env().items()} | {"journal_dir": journal}
        return EverySetting(**(values | overrides))  # type: ignore[arg-type]

    def signed_press(self, school_id: str) -> tuple[bytes, dict[str, str]]:
        """A press from the school's first button, and the headers that button signs it with."""
        device = f"{school_id}-BTN1"
        raw = encode(press_body(school_id=school_id, device_id=device))
        return raw, signed_headers(self.device_secret(device), device, raw)

    def token(self, role: Role, sub: str) -> str:
        return issue_token(self.jwt_secret, sub=sub, role=role)

    def auth(self, role: Role, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, sub)}"}

    def device_secret(self, device_id: str) -> str:
        return derive_device_secret(self.device_seed, device_id)

    def database(self, client: AsyncMongoClient[dict[str, object]], service: str) -> object:
        return client[f"{self.db_prefix}{service}"]


def new_namespace() -> Namespace:
    return Namespace(
        name=f"t{uuid.uuid4().hex[:10]}",
        jwt_secret=secrets.token_hex(32),
        device_seed=secrets.token_hex(16),
        pii_key=secrets.token_hex(32),
    )


async def drop_namespace(ns: Namespace) -> None:
    """Delete the namespace's topics and databases, so runs do not pile up state."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(MONGODB_URL)
    try:
        for service in SERVICES:
            await client.drop_database(f"{ns.db_prefix}{service}")
    finally:
        await client.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in ns.topics.partitions() if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


@pytest.fixture
async def namespace(servers: tuple[str, str]) -> AsyncIterator[Namespace]:
    ns = new_namespace()
    yield ns
    await drop_namespace(ns)


@pytest.fixture
async def mongo(servers: tuple[str, str]) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
def county_file() -> Path:
    return ROOT / "deploy" / "county.yaml"
