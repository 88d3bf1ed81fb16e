"""Sign-in (shared.signin): a token for the right password, 401 for a wrong one, and 429 with
Retry-After once a user name or a client has guessed wrong too often."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import argon2
import httpx
import pytest
import yaml
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from shared.auth import decode_token
from shared.signin import FAILURES_PER_USER, USER_REFILL_S, sign_in_router
from shared.users import HASHER, UserDirectory, add_user

SECRET = "s" * 40


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def app_with(tmp_path: Path, clock: Clock) -> FastAPI:
    users = tmp_path / "users.yaml"
    add_user(users, "li.supervisor", "supervisor", "the-right-password")
    app = FastAPI()
    app.state.jwt_secret = SECRET
    app.include_router(sign_in_router(UserDirectory.load(users), CollectorRegistry(), clock=clock))
    return app


async def test_wrong_passwords_are_throttled_per_user_then_allowed_again(tmp_path: Path) -> None:
    clock = Clock()
    transport = httpx.ASGITransport(app=app_with(tmp_path, clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://pages") as client:

        async def sign_in(password: str, username: str = "li.supervisor") -> httpx.Response:
            body = {"username": username, "password": password}
            return await client.post("/v1/auth/token", json=body)

        for _ in range(FAILURES_PER_USER):
            assert (await sign_in("guess")).status_code == 401
        throttled = await sign_in("the-right-password")  # even the right one, for now
        assert throttled.status_code == 429
        assert 0 < int(throttled.headers["Retry-After"]) <= USER_REFILL_S
        assert (await sign_in("guess", "LI.SUPERVISOR")).status_code == 429, "names fold case"
        clock.now += USER_REFILL_S
        allowed = await sign_in("the-right-password")
        assert allowed.status_code == 200
        claims = decode_token(SECRET, allowed.json()["access_token"])
        assert (claims.sub, claims.role) == ("li.supervisor", "supervisor")


async def test_one_client_guessing_many_names_is_throttled_too(tmp_path: Path) -> None:
    clock = Clock()
    transport = httpx.ASGITransport(app=app_with(tmp_path, clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://pages") as client:
        answers = [
            (
                await client.post("/v1/auth/token", json={"username": f"user{i}", "password": "x"})
            ).status_code
            for i in range(25)
        ]
    assert answers[:20] == [401] * 20 and set(answers[20:]) == {429}


async def test_the_pages_share_one_sign_in_script(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=app_with(tmp_path, Clock()))
    async with httpx.AsyncClient(transport=transport, base_url="http://pages") as client:
        response = await client.get("/signin.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "async function signIn(" in response.text
    for page in (
        "services/notifications/static/console.html",
        "services/reporting/static/reports.html",
    ):
        html = (Path(__file__).parents[2] / page).read_text(encoding="utf-8")
        assert '<script src="/signin.js"></script>' in html and "/v1/auth/token" not in html


async def test_a_stranger_guessing_cannot_lock_a_user_out(tmp_path: Path) -> None:
    """Failures counted per user name alone let anyone keep a known dispatcher out with one
    wrong password every USER_REFILL_S. Now they count per name and address together."""
    clock = Clock()
    app = app_with(tmp_path, clock)
    stranger = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    console = httpx.ASGITransport(app=app, client=("10.1.2.3", 50000))
    body = {"username": "li.supervisor", "password": "guess"}
    async with httpx.AsyncClient(transport=stranger, base_url="http://pages") as attacker:
        answers = [(await attacker.post("/v1/auth/token", json=body)).status_code for _ in range(8)]
    assert answers[:FAILURES_PER_USER] == [401] * FAILURES_PER_USER
    assert set(answers[FAILURES_PER_USER:]) == {429}, "the stranger is throttled"
    async with httpx.AsyncClient(transport=console, base_url="http://pages") as user:
        signed_in = await user.post(
            "/v1/auth/token", json={"username": "li.supervisor", "password": "the-right-password"}
        )
    assert signed_in.status_code == 200, "the user at the console is not"


def stored_hash(users: Path, username: str) -> str:
    entries = yaml.safe_load(users.read_text(encoding="utf-8"))["users"]
    return next(u["password"] for u in entries if u["username"] == username)


def test_passwords_are_hashed_with_argon2id(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    add_user(users, "wang.dispatcher", "dispatcher", "a-long-password-1")
    stored = stored_hash(users, "wang.dispatcher")
    assert stored.startswith("$argon2id$") and "m=65536,t=3" in stored
    assert users.stat().st_mode & 0o777 == 0o600
    directory = UserDirectory.load(users)
    assert directory.verify("wang.dispatcher", "a-long-password-1") is not None
    assert directory.verify("wang.dispatcher", "a-long-password-2") is None
    assert directory.verify("nobody", "a-long-password-1") is None


def test_older_hashes_are_replaced_on_the_next_sign_in(tmp_path: Path) -> None:
    """scrypt (N=2^14, the scheme before) and argon2id with weaker settings both still sign
    in, and the file then holds a hash of today's settings."""
    salt = bytes(range(16))
    digest = hashlib.scrypt(b"old-scrypt-password", salt=salt, n=2**14, r=8, p=1, dklen=32)
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    users = tmp_path / "users.yaml"
    users.write_text(
        yaml.safe_dump(
            {
                "users": [
                    {
                        "username": "old",
                        "role": "dispatcher",
                        "password": f"scrypt${salt.hex()}${digest.hex()}",
                    },
                    {"username": "weak", "role": "admin", "password": weak.hash("weak-settings")},
                ]
            }
        ),
        encoding="utf-8",
    )
    directory = UserDirectory.load(users)
    assert directory.verify("old", "not-it") is None
    assert directory.verify("old", "old-scrypt-password") is not None
    assert directory.verify("weak", "weak-settings") is not None
    for name in ("old", "weak"):
        assert not HASHER.check_needs_rehash(stored_hash(users, name)), name
    again = UserDirectory.load(users)
    assert again.verify("old", "old-scrypt-password") is not None
    assert again.verify("weak", "weak-settings") is not None


async def test_passwords_are_checked_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hash costs about 0.1 s of CPU: on the event loop of the process that streams alarms,
    each sign-in held every stream that long."""
    threads: list[int] = []
    real_verify = UserDirectory.verify

    def recording(self: UserDirectory, username: str, password: str) -> object:
        threads.append(threading.get_ident())
        return real_verify(self, username, password)

    monkeypatch.setattr(UserDirectory, "verify", recording)
    transport = httpx.ASGITransport(app=app_with(tmp_path, Clock()))
    async with httpx.AsyncClient(transport=transport, base_url="http://pages") as client:
        body = {"username": "li.supervisor", "password": "the-right-password"}
        assert (await client.post("/v1/auth/token", json=body)).status_code == 200
    assert threads and threading.get_ident() not in threads
