"""MongoDB access through PyMongo's native async API (AsyncMongoClient, motor's successor)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import Settings

Document = dict[str, Any]


def make_client(settings: Settings, *, app_name: str) -> AsyncMongoClient[Document]:
    """A client that connects lazily: building it does no I/O."""
    return AsyncMongoClient(
        settings.mongodb_url,
        appname=f"safecampus-{app_name}",
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        retryWrites=True,
    )


def service_database(
    client: AsyncMongoClient[Document], settings: Settings, service: str
) -> AsyncDatabase[Document]:
    """The service's own database; no service reads another's."""
    return client[f"{settings.mongodb_db_prefix}{service}"]
