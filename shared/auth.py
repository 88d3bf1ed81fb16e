"""User authentication: HS256 bearer tokens (JWT) carrying one role (DESIGN §5.3)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import jwt
from fastapi import HTTPException, Query, Request, status
from pydantic import BaseModel, ValidationError

Role = Literal["dispatcher", "unit", "supervisor", "admin", "school"]
ROLES: tuple[Role, ...] = ("dispatcher", "unit", "supervisor", "admin", "school")
ISSUER = "safecampus"
ALGORITHM = "HS256"


class Principal(BaseModel):
    """Who is calling: the subject (user or unit id) and its role."""

    sub: str
    role: Role


def issue_token(secret: str, *, sub: str, role: Role, ttl_s: int = 12 * 3600) -> str:
    """A signed token for sub with role, valid for ttl_s seconds."""
    now = int(time.time())
    claims = {"sub": sub, "role": role, "iss": ISSUER, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str) -> Principal:
    """The principal in a valid token; raises ValueError for any invalid one."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp"]}
        )
        return Principal.model_validate(claims)
    except (jwt.PyJWTError, ValidationError) as exc:
        raise ValueError(f"invalid token: {type(exc).__name__}") from exc


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


def require_role(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency: the principal from the `Authorization: Bearer` header; 401 without
    a valid token, 403 for another role."""

    async def dependency(request: Request) -> Principal:
        return _principal(request, bearer_token(request), roles)

    return dependency


def require_role_on_stream(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """`require_role` for live streams, which also take the token as `?access_token=`: a
    browser's EventSource cannot set headers. Only streams: a token in a URL is more easily
    leaked (history, proxies), so no other route accepts one."""

    async def dependency(
        request: Request,
        access_token: Annotated[
            str | None,
            Query(description="The bearer token, for clients that cannot set headers (SSE)"),
        ] = None,
    ) -> Principal:
        return _principal(request, bearer_token(request) or access_token, roles)

    return dependency


def _principal(request: Request, token: str | None, roles: tuple[Role, ...]) -> Principal:
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        principal = decode_token(request.app.state.jwt_secret, token)
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    if principal.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this")
    return principal


def main(argv: list[str] | None = None) -> None:
    """CLI: print a token, e.g. `safecampus token --role dispatcher --sub alice`."""
    from shared.settings import Settings

    parser = argparse.ArgumentParser(prog="safecampus token", description="Issue a user token")
    parser.add_argument("--role", choices=ROLES, required=True)
    parser.add_argument("--sub", required=True, help="user name, or the unit id for role unit")
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="seconds")
    args = parser.parse_args(argv)
    secret = Settings().require_jwt_secret()
    print(issue_token(secret, sub=args.sub, role=args.role, ttl_s=args.ttl))


if __name__ == "__main__":
    main()


def acting_as(principal: Principal, unit_id: str) -> None:
    """A unit acts only as itself (403 otherwise); other roles may act on any unit."""
    if principal.role == "unit" and principal.sub != unit_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a unit may act only as itself")


def for_school(principal: Principal, school_id: str) -> None:
    """A school's gate account acts only for its school (403 otherwise); the bureau's roles
    may act for any school."""
    if principal.role == "school" and principal.sub != school_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a school may act only for itself")
