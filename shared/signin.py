"""Sign-in for the web pages (console, dashboard): a bearer token valid on every service."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ConfigDict, Field

from shared.auth import issue_token
from shared.ratelimit import TokenBuckets
from shared.users import UserDirectory

SIGNIN_SCRIPT = Path(__file__).parent / "static" / "signin.js"
TOKEN_TTL_S = 12 * 3600
# Wrong passwords for one user name from one client address: a stranger who guesses a known
# dispatcher's password throttles only their own address, never the dispatcher at the console.
FAILURES_PER_USER = 5
USER_REFILL_S = 30.0
FAILURES_PER_CLIENT = 20
CLIENT_REFILL_S = 3.0
# Password hashes checked at once per process, each in a worker thread (about 0.1 s of CPU and
# 64 MiB): a burst of sign-ins queues here and never holds the event loop that serves alarms.
HASHES_AT_ONCE = 2


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=256)


class SignedIn(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    role: str
    expires_in: int


class SignInDesk:
    """Checks passwords against the users file and hands out tokens. Wrong passwords are
    throttled per user name and client address together, and per client address
    (FAILURES_PER_USER, then one every USER_REFILL_S; FAILURES_PER_CLIENT, then one every
    CLIENT_REFILL_S): 429 with Retry-After, before the password is even checked."""

    def __init__(self, users: UserDirectory, sign_ins: Counter, clock: Callable[[], float]) -> None:
        self._users = users
        self._sign_ins = sign_ins
        self._clock = clock
        self._per_user = TokenBuckets(burst=FAILURES_PER_USER, refill_s=USER_REFILL_S)
        self._per_client = TokenBuckets(burst=FAILURES_PER_CLIENT, refill_s=CLIENT_REFILL_S)
        self._hashing = asyncio.Semaphore(HASHES_AT_ONCE)

    async def sign_in(self, body: SignIn, *, client: str, jwt_secret: str) -> SignedIn:
        now = self._clock()
        user_key = f"{body.username.casefold()} {client}"
        wait = max(self._per_user.peek(user_key, now), self._per_client.peek(client, now))
        if wait > 0:
            self._sign_ins.labels("throttled").inc()
            raise HTTPException(
                429,
                "too many wrong passwords: try again later",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        async with self._hashing:
            principal = await asyncio.to_thread(self._users.verify, body.username, body.password)
        if principal is None:
            self._per_user.take(user_key, now)
            self._per_client.take(client, now)
            self._sign_ins.labels("refused").inc()
            raise HTTPException(401, "unknown user or wrong password")
        self._sign_ins.labels("ok").inc()
        token = issue_token(jwt_secret, sub=principal.sub, role=principal.role, ttl_s=TOKEN_TTL_S)
        return SignedIn(access_token=token, role=principal.role, expires_in=TOKEN_TTL_S)


def sign_in_router(
    users: UserDirectory,
    registry: CollectorRegistry,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> APIRouter:
    """`POST /v1/auth/token` against the users file (SignInDesk), and `/signin.js`, the
    pages' form logic; counts sign-ins by result."""
    router = APIRouter(tags=["sign-in"])
    sign_ins = Counter(
        "safecampus_sign_ins_total",
        "Sign-ins to the web pages, by result",
        ["result"],
        registry=registry,
    )
    desk = SignInDesk(users, sign_ins, clock)

    @router.post(
        "/v1/auth/token",
        response_model=SignedIn,
        summary="Sign in (dispatchers, supervisors, admins): a bearer token for every service",
        responses={
            401: {"description": "unknown user or wrong password"},
            429: {"description": "too many wrong passwords for this user or client"},
        },
    )
    async def sign_in(request: Request, body: SignIn) -> SignedIn:
        client = request.client.host if request.client else "?"
        return await desk.sign_in(body, client=client, jwt_secret=request.app.state.jwt_secret)

    @router.get("/signin.js", include_in_schema=False)
    async def sign_in_script() -> FileResponse:
        """The pages' form logic, one copy for every page."""
        return FileResponse(SIGNIN_SCRIPT, media_type="text/javascript; charset=utf-8")

    return router
