"""Which failures are worth trying again: the broker or the database briefly out of reach or
busy, as opposed to a message or a request that will fail the same way every time."""

from __future__ import annotations

from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NotEnoughReplicasError,
)
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
)

# Errors that are transient by their type.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    KafkaConnectionError,
    KafkaTimeoutError,
    NotEnoughReplicasError,
    ConnectionError,
    TimeoutError,
)

# Server error codes that a later attempt may not meet: the retryable-writes and -reads
# specifications' list (elections, shutdowns, unreachable hosts, time limits), plus the
# interruptions, lock and write-concern time-outs of a busy server. PyMongo labels an error
# `RetryableWriteError` only for a write it would itself retry, which it never does with
# retryable writes off (the embedded default) nor for a read, so the codes are read here.
TRANSIENT_CODES = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        24,  # LockTimeout
        50,  # MaxTimeMSExpired
        64,  # WriteConcernFailed (wtimeout)
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        112,  # WriteConflict
        134,  # ReadConcernMajorityNotAvailableYet
        189,  # PrimarySteppedDown
        262,  # ExceededTimeLimit
        9001,  # SocketException
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11601,  # Interrupted
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
    }
)
TRANSIENT_LABELS = ("RetryableWriteError", "TransientTransactionError")


def is_transient(exc: BaseException) -> bool:
    """True when the same call may succeed later: retry it (with backoff), do not give up."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    if not isinstance(exc, PyMongoError):
        return False
    if any(exc.has_error_label(label) for label in TRANSIENT_LABELS):
        return True
    if isinstance(exc, BulkWriteError):
        return _bulk_transient(exc)
    return isinstance(exc, OperationFailure) and exc.code in TRANSIENT_CODES


def _bulk_transient(exc: BulkWriteError) -> bool:
    """A bulk write whose only failures are write-concern ones with transient codes."""
    details = exc.details or {}
    concern = details.get("writeConcernErrors") or []
    return (
        not details.get("writeErrors")
        and bool(concern)
        and all(error.get("code") in TRANSIENT_CODES for error in concern)
    )


def is_unavailable(exc: BaseException) -> bool:
    """The broker or the database out of reach or busy: a background round tries again next
    round, and an HTTP request is answered 503 with Retry-After (shared.web)."""
    return is_transient(exc) or isinstance(exc, KafkaError)


def is_broker_down(exc: BaseException) -> bool:
    """The broker did not take a publish (unreachable, or no acknowledgement in time)."""
    return isinstance(exc, (KafkaError, TimeoutError, ConnectionError))
