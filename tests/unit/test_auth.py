"""Bearer tokens: the header everywhere, `?access_token=` on live streams only."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, FastAPI

from shared.auth import Principal, issue_token, require_role, require_role_on_stream

SECRET = "k" * 40


def app() -> FastAPI:
    api = FastAPI()
    api.state.jwt_secret = SECRET

    @api.get("/v1/things")
    async def things(
        who: Annotated[Principal, Depends(require_role("dispatcher"))],
    ) -> dict[str, str]:
        return {"sub": who.sub}

    @api.get("/v1/things/stream")
    async def stream(
        who: Annotated[Principal, Depends(require_role_on_stream("dispatcher"))],
    ) -> dict[str, str]:
        return {"sub": who.sub}

    return api


async def test_a_token_in_the_query_string_is_taken_on_streams_only() -> None:
    """It was accepted on every endpoint; a URL with a token leaks through history, proxies
    and referrers, so only EventSource's streams, which cannot set headers, take one."""
    token = issue_token(SECRET, sub="alice", role="dispatcher")
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.get("/v1/things", params={"access_token": token})
        streamed = await client.get("/v1/things/stream", params={"access_token": token})
        header = await client.get("/v1/things", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert streamed.status_code == 200 and streamed.json() == {"sub": "alice"}
    assert header.status_code == 200


async def test_wrong_role_and_bad_tokens() -> None:
    transport = httpx.ASGITransport(app=app())
    unit = issue_token(SECRET, sub="U1", role="unit")
    forged = issue_token("x" * 40, sub="alice", role="dispatcher")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        wrong_role = await client.get("/v1/things", headers={"Authorization": f"Bearer {unit}"})
        bad = await client.get("/v1/things", headers={"Authorization": f"Bearer {forged}"})
        none = await client.get("/v1/things/stream")
    assert wrong_role.status_code == 403
    assert bad.status_code == 401 and "InvalidSignatureError" in bad.json()["detail"]
    assert none.status_code == 401
