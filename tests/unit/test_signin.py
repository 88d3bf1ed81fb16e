"""Sign-in (shared.signin): a token for the right password, 401 for a wrong one, and 429 with
Retry-After once a user name or a client has guessed wrong too often."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from shared.auth import decode_token
from shared.signin import FAILURES_PER_USER, USER_REFILL_S, sign_in_router
from shared.users import UserDirectory, add_user

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
