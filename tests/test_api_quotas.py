"""Quotas through the API, over real HTTP: a token over its per-minute quota gets 429 with `Retry-After`
before its operation runs; a project's ingest quota is set with `setProjectRateLimit`, by an admin of its
own organization only, and takes effect on the next event. The limiter's clock is the test's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from conduit import ids
from conduit.quotas import MAX_RATE_LIMIT
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.ingest.helpers import events_of, sentry_auth
from tests.quotahelpers import Clock, limited_client, send_event

VIEWER = {"query": "{ viewer { scopes } }"}
SET_LIMIT = """mutation($id: ID!, $limit: Int) { setProjectRateLimit(projectId: $id, ingestRateLimit: $limit) {
  __typename ... on SetProjectRateLimitPayload { project { id ingestRateLimit } }
  ... on UserError { message } ... on ValidationError { field } ... on ForbiddenError { requiredScope } } }"""
CREATE_TOKEN = """mutation($scopes: [String!]!) { createApiToken(input: {name: "member", scopes: $scopes}) {
  __typename ... on CreateApiTokenPayload { value } } }"""
PROJECT_LIMIT = "query($id: ID!) { project(id: $id) { ingestRateLimit } }"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http(runtime: Runtime, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with limited_client(runtime.settings, clock, api_rate_limit=3) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def gql(http: httpx.AsyncClient, token: str, query: str, **variables: Any) -> dict[str, Any]:
    r = await http.post("/graphql", json={"query": query, "variables": variables}, headers=bearer(token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_token_over_its_quota_gets_429_with_retry_after(
    http: httpx.AsyncClient, tenant: Tenant, clock: Clock
) -> None:
    for _ in range(3):
        r = await http.post("/graphql", json=VIEWER, headers=tenant.auth)
        assert r.status_code == 200 and "retry-after" not in r.headers
    r = await http.post("/graphql", json=VIEWER, headers=tenant.auth)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "20"
    [error] = r.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "3 requests per minute" in error["message"]
    assert "data" not in r.json()
    # The same answer whatever the client prefers to read.
    r = await http.post(
        "/graphql", json=VIEWER, headers={**tenant.auth, "Accept": "application/graphql-response+json"}
    )
    assert r.status_code == 429 and r.headers["retry-after"] == "20"

    clock.advance(20)
    assert (await http.post("/graphql", json=VIEWER, headers=tenant.auth)).status_code == 200
    assert (await http.post("/graphql", json=VIEWER, headers=tenant.auth)).status_code == 429


async def test_tokens_are_counted_apart_and_strangers_are_not_counted(
    http: httpx.AsyncClient, tenant: Tenant, tenant2: Tenant
) -> None:
    created = await gql(http, tenant.token, CREATE_TOKEN, scopes=["project:read"])
    other_token = created["data"]["createApiToken"]["value"]
    for _ in range(2):
        await http.post("/graphql", json=VIEWER, headers=tenant.auth)
    assert (await http.post("/graphql", json=VIEWER, headers=tenant.auth)).status_code == 429
    # Another token of the same organization, another organization: their own quotas.
    assert (await http.post("/graphql", json=VIEWER, headers=bearer(other_token))).status_code == 200
    assert (await http.post("/graphql", json=VIEWER, headers=tenant2.auth)).status_code == 200
    # Without a valid token the answer stays 401: a quota is no oracle for tokens.
    r = await http.post("/graphql", json=VIEWER, headers=bearer("cdt_" + "x" * 40))
    assert r.status_code == 401


@pytest.fixture
async def ingest_http(runtime: Runtime, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with limited_client(runtime.settings, clock, ingest_rate_limit=5) as client:
        yield client


async def test_an_admin_sets_the_projects_quota_and_the_next_event_obeys_it(
    ingest_http: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    project = ids.encode("Project", tenant.project_id)
    assert (await gql(ingest_http, tenant.token, PROJECT_LIMIT, id=project))["data"]["project"] == {
        "ingestRateLimit": None
    }
    set_one = await gql(ingest_http, tenant.token, SET_LIMIT, id=project, limit=1)
    assert set_one["data"]["setProjectRateLimit"] == {
        "__typename": "SetProjectRateLimitPayload",
        "project": {"id": project, "ingestRateLimit": 1},
    }
    assert (await send_event(ingest_http, tenant)).status_code == 200
    refused = await send_event(ingest_http, tenant)
    assert refused.status_code == 429
    assert refused.headers["x-sentry-rate-limits"] == "60:error;default:key:key_quota"

    # Back to the server's default of 5 a minute, counted afresh.
    cleared = await gql(ingest_http, tenant.token, SET_LIMIT, id=project, limit=None)
    assert cleared["data"]["setProjectRateLimit"]["project"]["ingestRateLimit"] is None
    statuses = [(await send_event(ingest_http, tenant)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert len(await events_of(runtime, tenant.project_id)) == 6


async def test_only_an_admin_of_the_projects_organization_sets_its_quota(
    ingest_http: httpx.AsyncClient, tenant: Tenant, tenant2: Tenant
) -> None:
    project = ids.encode("Project", tenant.project_id)
    created = await gql(ingest_http, tenant.token, CREATE_TOKEN, scopes=["project:write", "org:write"])
    member = created["data"]["createApiToken"]["value"]
    as_member = await gql(ingest_http, member, SET_LIMIT, id=project, limit=1_000_000)
    assert as_member["data"]["setProjectRateLimit"]["__typename"] == "ForbiddenError"
    assert as_member["data"]["setProjectRateLimit"]["requiredScope"] == "admin"

    # Another organization's admin: the project does not exist for it.
    as_stranger = await gql(ingest_http, tenant2.token, SET_LIMIT, id=project, limit=1_000_000)
    assert as_stranger["data"]["setProjectRateLimit"]["__typename"] == "NotFoundError"
    unknown = ids.encode("Project", 2**62)
    missing = await gql(ingest_http, tenant.token, SET_LIMIT, id=unknown, limit=10)
    assert missing["data"]["setProjectRateLimit"]["__typename"] == "NotFoundError"
    not_a_project = ids.encode("Issue", tenant.project_id)
    wrong_kind = await gql(ingest_http, tenant.token, SET_LIMIT, id=not_a_project, limit=10)
    assert wrong_kind["data"]["setProjectRateLimit"]["__typename"] == "NotFoundError"

    after = await gql(ingest_http, tenant.token, PROJECT_LIMIT, id=project)
    assert after["data"]["project"]["ingestRateLimit"] is None


@pytest.mark.parametrize("limit", [0, -1, -(2**31), MAX_RATE_LIMIT + 1, 2**31 - 1])
async def test_out_of_range_limits_are_validation_errors(
    ingest_http: httpx.AsyncClient, tenant: Tenant, limit: int
) -> None:
    project = ids.encode("Project", tenant.project_id)
    result = await gql(ingest_http, tenant.token, SET_LIMIT, id=project, limit=limit)
    payload = result["data"]["setProjectRateLimit"]
    assert (payload["__typename"], payload["field"]) == ("ValidationError", "ingestRateLimit")
    after = await gql(ingest_http, tenant.token, PROJECT_LIMIT, id=project)
    assert after["data"]["project"]["ingestRateLimit"] is None


@pytest.mark.parametrize("limit", [2**31, 2**63, 1.5, "10", "ten", [1], {"n": 1}, True])
async def test_values_that_are_not_32_bit_integers_never_reach_the_resolver(
    ingest_http: httpx.AsyncClient, tenant: Tenant, limit: object
) -> None:
    project = ids.encode("Project", tenant.project_id)
    r = await ingest_http.post(
        "/graphql",
        json={"query": SET_LIMIT, "variables": {"id": project, "limit": limit}},
        headers=tenant.auth,
    )
    body = r.json()
    assert body.get("data") is None and body["errors"]
    assert "limit" in body["errors"][0]["message"]
    after = await gql(ingest_http, tenant.token, PROJECT_LIMIT, id=project)
    assert after["data"]["project"]["ingestRateLimit"] is None


async def test_without_a_token_nothing_is_set(ingest_http: httpx.AsyncClient, tenant: Tenant) -> None:
    project = ids.encode("Project", tenant.project_id)
    r = await ingest_http.post(
        "/graphql", json={"query": SET_LIMIT, "variables": {"id": project, "limit": 1}}
    )
    assert r.status_code == 401
    r = await ingest_http.post(
        "/graphql",
        json={"query": SET_LIMIT, "variables": {"id": project, "limit": 1}},
        headers=sentry_auth(tenant.public_key),
    )
    assert r.status_code == 401
