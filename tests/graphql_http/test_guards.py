"""The schema extensions from conduit.schema.guards: limits, masking, the _entities batch limit."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import httpx
import pytest

from .conftest import AUTH, LIMITS

GRAPHQL_RESPONSE = {"Accept": "application/graphql-response+json"}
ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Thing { id name } } }"


async def post(client: httpx.AsyncClient, body: Mapping[str, object]) -> httpx.Response:
    return await client.post("/graphql", json=body, headers={**AUTH, **GRAPHQL_RESPONSE})


def nested(depth: int) -> str:
    # `thing` is depth 0; each `child` adds one.
    return "{ thing { " + "child { " * depth + "name" + " }" * depth + " } }"


async def test_depth_limit(tiny_client: httpx.AsyncClient) -> None:
    ok = await post(tiny_client, {"query": nested(LIMITS["graphql_max_depth"] - 1)})
    assert ok.status_code == 200, ok.text
    deep = await post(tiny_client, {"query": nested(LIMITS["graphql_max_depth"])})
    assert deep.status_code == 422
    assert "exceeds maximum operation depth" in deep.json()["errors"][0]["message"]


async def test_alias_limit(tiny_client: httpx.AsyncClient) -> None:
    limit = LIMITS["graphql_max_aliases"]
    ok = await post(tiny_client, {"query": "{ " + " ".join(f"a{i}: hello" for i in range(limit)) + " }"})
    assert ok.status_code == 200
    many = await post(
        tiny_client, {"query": "{ " + " ".join(f"a{i}: hello" for i in range(limit + 1)) + " }"}
    )
    assert many.status_code == 422
    assert f"Allowed: {limit}" in many.json()["errors"][0]["message"]


async def test_token_limit(tiny_client: httpx.AsyncClient) -> None:
    # Repeating a field is cheap for the alias and depth rules but not for the token limit.
    query = "{ " + "hello " * LIMITS["graphql_max_tokens"] + "}"
    r = await post(tiny_client, {"query": query})
    assert r.status_code == 400
    assert "tokens" in r.json()["errors"][0]["message"]


async def test_unexpected_errors_are_masked_and_logged_with_the_same_id(
    tiny_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="conduit.graphql"):
        r = await post(tiny_client, {"query": "{ hello boom }"})
    assert r.status_code == 200
    body = r.json()
    assert body["data"] == {"hello": "hello world", "boom": None}
    [error] = body["errors"]
    assert "hunter2" not in r.text
    match = re.fullmatch(r"Unexpected error \(id: ([0-9a-f-]{36})\)", error["message"])
    assert match is not None
    error_id = match.group(1)
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "errorId": error_id}
    assert error["path"] == ["boom"]
    [record] = [rec for rec in caplog.records if rec.name == "conduit.graphql"]
    assert error_id in record.getMessage()
    assert record.exc_info is not None
    assert "hunter2" in str(record.exc_info[1])


async def test_typed_errors_pass_through_unmasked(
    tiny_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="conduit.graphql"):
        r = await post(tiny_client, {"query": "{ refused }"})
    assert r.json()["errors"][0]["message"] == "you may not"
    assert r.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert not [rec for rec in caplog.records if rec.name == "conduit.graphql"]


async def test_scalar_rejecting_a_literal_is_a_validation_error_not_masked(
    tiny_client: httpx.AsyncClient,
) -> None:
    # The scalar raises ValueError; validation wraps it, and it must reach the client as it is.
    r = await post(tiny_client, {"query": "{ half(n: 3) }"})
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert "3 is not an even number" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_scalar_rejecting_a_variable_is_a_request_error_not_masked(
    tiny_client: httpx.AsyncClient,
) -> None:
    r = await post(tiny_client, {"query": "query($n: Even!) { half(n: $n) }", "variables": {"n": 3}})
    assert r.status_code == 422
    assert "3 is not an even number" in r.json()["errors"][0]["message"]


def representations(n: int) -> list[dict[str, str]]:
    return [{"__typename": "Thing", "id": str(i)} for i in range(n)]


async def test_entities_within_the_limit_resolve(tiny_client: httpx.AsyncClient) -> None:
    limit = LIMITS["graphql_max_entities"]
    r = await post(tiny_client, {"query": ENTITIES, "variables": {"r": representations(limit)}})
    assert r.status_code == 200
    assert [e["id"] for e in r.json()["data"]["_entities"]] == [str(i) for i in range(limit)]


async def test_entities_batch_over_the_limit_is_refused(tiny_client: httpx.AsyncClient) -> None:
    limit = LIMITS["graphql_max_entities"]
    r = await post(tiny_client, {"query": ENTITIES, "variables": {"r": representations(limit + 1)}})
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["extensions"] == {"code": "ENTITIES_LIMIT_EXCEEDED", "limit": limit}
    assert f"{limit + 1} representations" in error["message"]


async def test_entities_limit_counts_inline_lists_aliases_and_fragments(
    tiny_client: httpx.AsyncClient,
) -> None:
    reps = ", ".join(f'{{__typename: "Thing", id: "{i}"}}' for i in range(3))
    query = (
        f"query {{ a: _entities(representations: [{reps}]) {{ __typename }} ...More }} "
        f"fragment More on Query {{ b: _entities(representations: [{reps}]) {{ __typename }} }}"
    )
    r = await post(tiny_client, {"query": query})
    assert r.status_code == 422
    assert "6 representations" in r.json()["errors"][0]["message"]
