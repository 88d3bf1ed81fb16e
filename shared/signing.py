"""Device request signatures (contract DESIGN §5.1): HMAC-SHA256 over "<timestamp>." + body."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256(secret, "<timestamp>." + body)."""
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_valid(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Constant-time comparison of the expected and the given signature."""
    try:
        expected = sign(secret, timestamp, body)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, signature.lower())


def timestamp_fresh(timestamp: str, now: float, window_s: int) -> bool:
    """True when the Unix-seconds timestamp is within window_s of now."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - now) <= window_s


def derive_device_secret(seed: str, device_id: str) -> str:
    """A device secret derived from the deployment's seed, for devices provisioned without one."""
    return hmac.new(seed.encode(), f"device:{device_id}".encode(), hashlib.sha256).hexdigest()
