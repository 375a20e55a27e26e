"""NUL characters in GraphQL strings: PostgreSQL text cannot hold them, so they are refused up front."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant

CREATE = "mutation($n: String!) { createProject(input: {name: $n}) { __typename } }"


@pytest.mark.parametrize("where", ["variable", "literal"])
async def test_a_nul_character_is_bad_input_not_a_server_error(
    client: httpx.AsyncClient, tenant: Tenant, where: str
) -> None:
    if where == "variable":
        body = {"query": CREATE, "variables": {"n": "a\u0000b"}}
    else:
        body = {"query": 'mutation { createProject(input: {name: "a\\u0000b"}) { __typename } }'}
    r = await client.post("/graphql", json=body, headers=tenant.auth)
    errors = r.json().get("errors")
    assert errors, r.text
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "NUL" in errors[0]["message"]
    # Nothing was written: the same name without the NUL is still free and a clean create works.
    ok = await client.post("/graphql", json={"query": CREATE, "variables": {"n": "ab"}}, headers=tenant.auth)
    assert ok.json()["data"]["createProject"]["__typename"] != "ValidationError"
