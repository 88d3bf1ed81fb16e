import hashlib
import hmac

from shared.signing import (
    derive_device_secret,
    device_headers,
    sign,
    signature_valid,
    timestamp_fresh,
    verify_device,
)


def test_signature_is_lowercase_hex_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("k", "1700000000", b"{}") == expected


def test_valid_signature_accepted_and_any_change_refused() -> None:
    sig = sign("secret", "100", b'{"a":1}')
    assert signature_valid("secret", "100", b'{"a":1}', sig)
    assert signature_valid("secret", "100", b'{"a":1}', sig.upper())
    assert not signature_valid("secret", "101", b'{"a":1}', sig)
    assert not signature_valid("secret", "100", b'{"a":2}', sig)
    assert not signature_valid("other", "100", b'{"a":1}', sig)
    assert not signature_valid("secret", "10é", b"{}", sig)


def test_timestamp_window_is_inclusive_and_rejects_garbage() -> None:
    assert timestamp_fresh("1000", 1300, 300)
    assert timestamp_fresh("1600", 1300, 300)
    assert not timestamp_fresh("999", 1300, 300)
    assert not timestamp_fresh("-5", 1300, 300)
    assert not timestamp_fresh("1e3", 1300, 300)
    assert not timestamp_fresh("9" * 40, 1300, 300)


def test_derived_secrets_differ_per_device_and_seed() -> None:
    a = derive_device_secret("seed", "D1")
    assert a == derive_device_secret("seed", "D1")
    assert a != derive_device_secret("seed", "D2")
    assert a != derive_device_secret("seed2", "D1")


def test_a_non_ascii_signature_is_refused_not_an_error() -> None:
    """Headers arrive as Latin-1 text: `hmac.compare_digest` raised TypeError (a 500) on any
    character outside ASCII."""
    sig = sign("secret", "100", b"{}")
    assert not signature_valid("secret", "100", b"{}", "é" + sig[1:])
    assert not signature_valid("secret", "100", b"{}", "ÿ" * 64)


def test_unicode_digits_are_not_a_timestamp() -> None:
    """`str.isdigit` accepts '²' (`int()` then raised ValueError, a 500) and other digits."""
    assert not timestamp_fresh("1²00", 1300, 300)
    assert not timestamp_fresh("١٣٠٠", 1300, 300)
    assert not timestamp_fresh("1300\n", 1300, 300)


def test_the_headers_a_device_sends_are_what_ingress_verifies() -> None:
    body = b'{"sent_at": "2026-11-30T08:00:00+08:00"}'
    headers = device_headers("s" * 64, "S001-BTN1", body, timestamp=1_796_000_000)
    assert headers["X-Timestamp"] == "1796000000"
    assert headers["Content-Type"] == "application/json"
    verified = verify_device(
        {"S001-BTN1": "s" * 64}.get,
        device_id=headers["X-Device-Id"],
        timestamp=headers["X-Timestamp"],
        signature=headers["X-Signature"],
        body=body,
        now=1_796_000_010,
        window_s=300,
    )
    assert verified == "S001-BTN1"
