"""Authentication on the real schema: every operation needs a live token, introspection included."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

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


async def test_revoked_token_is_401(client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime) -> None:
    ok = await client.post("/graphql", json={"query": QUERIES[0]}, headers=tenant.auth)
    assert ok.status_code == 200
    async with runtime.sessions() as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.organization_id == tenant.organization_id)
            .values(revoked_at=utcnow())
        )
        await session.commit()
    r = await client.post("/graphql", json={"query": QUERIES[0]}, headers=tenant.auth)
    assert "revoked" in assert_unauthenticated(r, invalid_token=True)


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
