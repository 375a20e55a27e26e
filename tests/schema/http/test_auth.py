"""Authentication on the real schema: every operation needs a live token, introspection included."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from conduit import ids
from conduit.auth import bearer, tokens
from conduit.bootstrap import mint_token
from conduit.db.base import utcnow
from conduit.db.models import ApiToken
from conduit.runtime import Runtime
from tests.conftest import Tenant

QUERIES = [
    "{ viewer { scopes } }",
    "{ __schema { queryType { name } } }",
    "{ _service { sdl } }",
]


def assert_unauthenticated(r: httpx.Response, invalid_token: bool) -> str:
    assert r.status_code == 401
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert ('error="invalid_token"' in challenge) is invalid_token
    body = r.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    return str(error["message"])


@pytest.mark.parametrize("query", QUERIES)
async def test_no_token_is_401(client: httpx.AsyncClient, query: str) -> None:
    r = await client.post("/graphql", json={"query": query})
    assert "Authorization: Bearer" in assert_unauthenticated(r, invalid_token=False)


@pytest.mark.parametrize(
    "authorization", ["Bearer cdt_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer ", "cdt_no_scheme"]
)
async def test_bad_token_is_401(client: httpx.AsyncClient, authorization: str) -> None:
    r = await client.post("/graphql", json={"query": QUERIES[0]}, headers={"Authorization": authorization})
    assert_unauthenticated(r, invalid_token=True)


async def test_a_token_revoked_here_is_refused_at_once(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    async with runtime.sessions() as session:
        row, value = mint_token(session, tenant.organization_id, "doomed", ["issue:read"])
        await session.commit()
    doomed = {"Authorization": f"Bearer {value}"}
    # Served, so the token is in this process's cache when it is revoked.
    assert (await client.post("/graphql", json={"query": QUERIES[0]}, headers=doomed)).status_code == 200
    revoke = "mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }"
    r = await client.post(
        "/graphql",
        json={"query": revoke, "variables": {"id": ids.encode("ApiToken", row.id)}},
        headers=tenant.auth,
    )
    assert r.json()["data"]["revokeApiToken"]["__typename"] == "RevokeApiTokenPayload"
    r = await client.post("/graphql", json={"query": QUERIES[0]}, headers=doomed)
    assert "revoked" in assert_unauthenticated(r, invalid_token=True)
    # The revoking token itself is unaffected.
    assert (await client.post("/graphql", json={"query": QUERIES[0]}, headers=tenant.auth)).status_code == 200


async def test_a_token_revoked_elsewhere_is_refused_once_the_cache_entry_expires(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    monkeypatch.setattr(runtime.get(bearer.TOKEN_CACHE), "clock", lambda: now[0])
    ok = await client.post("/graphql", json={"query": QUERIES[0]}, headers=tenant.auth)
    assert ok.status_code == 200
    # As another process would: in the database, without telling this one.
    async with runtime.sessions() as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.organization_id == tenant.organization_id)
            .values(revoked_at=utcnow())
        )
        await session.commit()
    now[0] += bearer.TOKEN_CACHE_SECONDS - 0.5
    still = await client.post("/graphql", json={"query": QUERIES[0]}, headers=tenant.auth)
    assert still.status_code == 200  # within the documented window
    now[0] += 0.5
    r = await client.post("/graphql", json={"query": QUERIES[0]}, headers=tenant.auth)
    assert "revoked" in assert_unauthenticated(r, invalid_token=True)


async def test_a_cached_token_still_records_its_use_every_minute(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    async def last_used() -> datetime | None:
        async with runtime.sessions() as session:
            stmt = select(ApiToken.last_used_at).where(ApiToken.organization_id == tenant.organization_id)
            return (await session.execute(stmt)).scalar_one()

    assert (await client.post("/graphql", json={"query": QUERIES[0]}, headers=tenant.auth)).status_code == 200
    first = await last_used()
    assert first is not None
    # Recorded over a minute ago: the next request, though its token is cached, records it again.
    async with runtime.sessions() as session:
        stale = first - bearer.LAST_USED_RESOLUTION - timedelta(seconds=1)
        await session.execute(
            update(ApiToken)
            .where(ApiToken.organization_id == tenant.organization_id)
            .values(last_used_at=stale)
        )
        await session.commit()
    entry = runtime.get(bearer.TOKEN_CACHE).get(tokens.hash_token(tenant.token))
    assert entry is not None
    entry.last_used = stale  # what this process remembers of it, as a minute later
    assert (await client.post("/graphql", json={"query": QUERIES[0]}, headers=tenant.auth)).status_code == 200
    again = await last_used()
    assert again is not None and again > stale + bearer.LAST_USED_RESOLUTION


@pytest.mark.parametrize("query", QUERIES)
async def test_valid_token_is_served(client: httpx.AsyncClient, tenant: Tenant, query: str) -> None:
    r = await client.post(
        "/graphql",
        json={"query": query},
        headers={**tenant.auth, "Accept": "application/graphql-response+json"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/graphql-response+json")
    assert "errors" not in r.json()
    assert r.json()["data"]


async def test_graphiql_served_by_the_app_outside_production(client: httpx.AsyncClient) -> None:
    r = await client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert "graphiql" in r.text.lower()
