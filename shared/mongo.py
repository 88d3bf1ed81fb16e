"""MongoDB access through PyMongo's native async API (AsyncMongoClient, motor's successor)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import UTC, date, datetime
from typing import Any

import bson
from pydantic import BaseModel
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.events import PositionReported
from shared.settings import Settings

Document = dict[str, Any]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the lower end of "any time" in a range query


def make_client(settings: Settings, *, app_name: str) -> AsyncMongoClient[Document]:
    """A client that connects lazily: building it does no I/O."""
    return AsyncMongoClient(
        settings.mongodb_url,
        appname=f"safecampus-{app_name}",
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
    )  # retryable writes as MONGODB_URL says (on unless it says retryWrites=false)


def service_database(
    client: AsyncMongoClient[Document], settings: Settings, service: str
) -> AsyncDatabase[Document]:
    """The service's own database; no service reads another's."""
    return client[f"{settings.mongodb_db_prefix}{service}"]


DUPLICATE_KEY = 11000


async def tolerating_duplicates(write: Awaitable[object]) -> int:
    """Run an unordered bulk write where a duplicate key means 'already there'; returns how many
    writes were refused as duplicates. Any other write error is raised."""
    return len(await duplicate_indexes(write))


async def duplicate_indexes(write: Awaitable[object]) -> set[int]:
    """Run an unordered bulk write; returns the indexes of the writes refused as duplicate
    keys. Any other write error is raised."""
    try:
        await write
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return {int(error["index"]) for error in errors}
    return set()


def bson_value(value: Any) -> Any:
    """A value MongoDB stores as such: models as documents, UUIDs and calendar dates as
    strings; datetimes stay BSON dates (so they can be queried and sorted), recursively."""
    if isinstance(value, BaseModel):
        return bson_value(value.model_dump(mode="python"))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): bson_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [bson_value(v) for v in value]
    return value


def to_milliseconds(at: datetime) -> datetime:
    """A time as BSON keeps it (milliseconds), so that what is answered is what is stored."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def to_document(model: BaseModel, **fields: Any) -> Document:
    """The model as a document, with extra fields (typically `_id`)."""
    document: Document = bson_value(model)
    return document | fields


def as_stored(collection: AsyncCollection[Document], document: Document) -> Document:
    """The document as reading it back from `collection` would give it (BSON keeps dates to
    the millisecond), without the round trip. On SecantusDB findAndModify scans the whole
    collection even for an `_id`, so writes that need the result use an indexed update_one and
    build what they wrote with this."""
    return bson.decode(bson.encode(document), codec_options=collection.codec_options)


async def pull_from_outbox(collection: AsyncCollection[Document], key: str, event_id: str) -> None:
    """Take a published event out of a document's `outbox`, and its `outbox_since` marker
    (sparse, indexed: what the relays look for) with the last one. Usually the event is the
    only one: then it is one write, else a pull and a conditional unset."""
    only = await collection.update_one(
        {"_id": key, "outbox": {"$size": 1}, "outbox.0.event_id": event_id},
        {"$set": {"outbox": []}, "$unset": {"outbox_since": ""}},
    )
    if only.matched_count:
        return
    await collection.update_one({"_id": key}, {"$pull": {"outbox": {"event_id": event_id}}})
    await collection.update_one(
        {"_id": key, "outbox.0": {"$exists": False}}, {"$unset": {"outbox_since": ""}}
    )


def move_forward(fix: PositionReported, *, upsert: bool = False, **also: Any) -> UpdateOne:
    """Move a unit's document to `fix`, unless it holds a newer one (then nothing matches; with
    `upsert`, the insert collides with the existing _id, which is what 'already newer' looks
    like). The filter names the `_id` and nothing in an `$or`: SecantusDB scans for an `$or`."""
    return UpdateOne(
        {"_id": fix.unit_id, "recorded_at": {"$not": {"$gte": fix.recorded_at}}},
        {"$set": {"lat": fix.lat, "lon": fix.lon, "recorded_at": fix.recorded_at, **also}},
        upsert=upsert,
    )
