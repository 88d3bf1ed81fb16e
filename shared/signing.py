"""Device request signatures (contract DESIGN §5.1): HMAC-SHA256 over "<timestamp>." + body."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable

# Unix seconds in ASCII digits: `str.isdigit` would take '²' and other Unicode digits.
TIMESTAMP = re.compile(r"[0-9]{1,12}")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256(secret, "<timestamp>." + body)."""
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def device_headers(
    secret: str, device_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The headers a device sends with a signed JSON body (contract DESIGN §5.1), signed now
    unless `timestamp` says when."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Device-Id": device_id,
        "X-Timestamp": ts,
        "X-Signature": sign(secret, ts, body),
        "Content-Type": "application/json",
    }


def signature_valid(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Constant-time comparison of the expected and the given signature."""
    try:
        expected = sign(secret, timestamp, body)
    except UnicodeEncodeError:
        return False
    # Bytes, not text: `compare_digest` refuses text outside ASCII with a TypeError.
    return hmac.compare_digest(expected.encode(), signature.lower().encode("utf-8", "replace"))


def timestamp_fresh(timestamp: str, now: float, window_s: int) -> bool:
    """True when the Unix-seconds timestamp is within window_s of now."""
    if TIMESTAMP.fullmatch(timestamp) is None:
        return False
    return abs(int(timestamp) - now) <= window_s


def derive_device_secret(seed: str, device_id: str) -> str:
    """A device secret derived from the deployment's seed, for devices provisioned without one."""
    return hmac.new(seed.encode(), f"device:{device_id}".encode(), hashlib.sha256).hexdigest()


class DeviceAuthError(Exception):
    """A device request that does not prove its device (401): a code and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def verify_device(
    secret_of: Callable[[str], str | None],
    *,
    device_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window_s: int,
) -> str:
    """The device id whose secret signed `timestamp.body`, or DeviceAuthError."""
    if not device_id or not timestamp or not signature:
        raise DeviceAuthError(
            "missing_headers", "X-Device-Id, X-Timestamp and X-Signature are required"
        )
    secret = secret_of(device_id)
    if secret is None:
        raise DeviceAuthError("unknown_device", "unknown device")
    if not timestamp_fresh(timestamp, now, window_s):
        raise DeviceAuthError("stale_timestamp", f"X-Timestamp is more than {window_s} s off")
    if not signature_valid(secret, timestamp, body, signature):
        raise DeviceAuthError("bad_signature", "signature does not match")
    return device_id
