"""Sign-in for the web pages (console, dashboard): a bearer token valid on every service."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ConfigDict, Field

from shared.auth import issue_token
from shared.users import UserDirectory

TOKEN_TTL_S = 12 * 3600


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=256)


class SignedIn(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    role: str
    expires_in: int


def sign_in_router(users: UserDirectory, registry: CollectorRegistry) -> APIRouter:
    """`POST /v1/auth/token` against the users file; counts sign-ins by result."""
    router = APIRouter(tags=["sign-in"])
    sign_ins = Counter(
        "safecampus_sign_ins_total",
        "Sign-ins to the web pages, by result",
        ["result"],
        registry=registry,
    )

    @router.post(
        "/v1/auth/token",
        response_model=SignedIn,
        summary="Sign in (dispatchers, supervisors, admins): a bearer token for every service",
        responses={401: {"description": "unknown user or wrong password"}},
    )
    async def sign_in(request: Request, body: SignIn) -> SignedIn:
        principal = users.verify(body.username, body.password)
        if principal is None:
            sign_ins.labels("refused").inc()
            raise HTTPException(401, "unknown user or wrong password")
        sign_ins.labels("ok").inc()
        token = issue_token(
            request.app.state.jwt_secret, sub=principal.sub, role=principal.role, ttl_s=TOKEN_TTL_S
        )
        return SignedIn(access_token=token, role=principal.role, expires_in=TOKEN_TTL_S)

    return router
