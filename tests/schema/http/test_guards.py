"""The schema extensions from conduit.schema.guards: limits, masking, operation selection, cost."""

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
    assert deep.status_code == 400
    assert "exceeds maximum operation depth" in deep.json()["errors"][0]["message"]


async def test_alias_limit(tiny_client: httpx.AsyncClient) -> None:
    limit = LIMITS["graphql_max_aliases"]
    ok = await post(tiny_client, {"query": "{ " + " ".join(f"a{i}: hello" for i in range(limit)) + " }"})
    assert ok.status_code == 200
    many = await post(
        tiny_client, {"query": "{ " + " ".join(f"a{i}: hello" for i in range(limit + 1)) + " }"}
    )
    assert many.status_code == 400
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
    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert "3 is not an even number" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_scalar_rejecting_a_variable_is_a_request_error_not_masked(
    tiny_client: httpx.AsyncClient,
) -> None:
    r = await post(tiny_client, {"query": "query($n: Even!) { half(n: $n) }", "variables": {"n": 3}})
    assert r.status_code == 400
    assert "3 is not an even number" in r.json()["errors"][0]["message"]


def representations(n: int) -> list[dict[str, str]]:
    return [{"__typename": "Thing", "id": str(i)} for i in range(n)]


def entities_cost(n: int) -> int:
    # `_entities` (1) + n representations x (id + name).
    return 1 + n * 2


async def test_entities_within_the_cost_resolve(tiny_client: httpx.AsyncClient) -> None:
    n = (LIMITS["graphql_max_cost"] - 1) // 2
    assert entities_cost(n) <= LIMITS["graphql_max_cost"] < entities_cost(n + 1)
    r = await post(tiny_client, {"query": ENTITIES, "variables": {"r": representations(n)}})
    assert r.status_code == 200
    assert [e["id"] for e in r.json()["data"]["_entities"]] == [str(i) for i in range(n)]


async def test_entities_batch_over_the_cost_is_refused(tiny_client: httpx.AsyncClient) -> None:
    n = (LIMITS["graphql_max_cost"] - 1) // 2 + 1
    r = await post(tiny_client, {"query": ENTITIES, "variables": {"r": representations(n)}})
    assert r.status_code == 400
    assert "data" not in r.json()
    [error] = r.json()["errors"]
    limit = LIMITS["graphql_max_cost"]
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": entities_cost(n), "limit": limit}
    assert f"costs {entities_cost(n)}, over the limit of {limit}" in error["message"]


async def test_entities_cost_counts_variables_inline_lists_aliases_and_fragments(
    tiny_client: httpx.AsyncClient,
) -> None:
    reps = ", ".join(f'{{__typename: "Thing", id: "{i}"}}' for i in range(5))
    query = (
        "query($r: [_Any!]!) { a: _entities(representations: $r) { ... on Thing { id name } } ...More } "
        f"fragment More on Query {{ b: _entities(representations: [{reps}]) {{ ... on Thing {{ id name }} }} }}"
    )
    r = await post(tiny_client, {"query": query, "variables": {"r": representations(20)}})
    assert r.status_code == 400
    # a: 1 + 20 x 2, b: 1 + 5 x 2; each alone is within the limit of 50.
    assert r.json()["errors"][0]["extensions"]["cost"] == entities_cost(20) + entities_cost(5)


async def test_nested_lists_multiply(tiny_client: httpx.AsyncClient) -> None:
    # `many` has no paging arguments: each level counts as DEFAULT_LIST_SIZE (25) items.
    r = await post(tiny_client, {"query": "{ thing { many(n: 1) { id } } }"})
    assert r.status_code == 200, r.text
    r = await post(tiny_client, {"query": "{ thing { many(n: 1) { many(n: 1) { id } } } }"})
    assert r.status_code == 400
    # thing: 1 + (many: 1 + 25 x (many: 1 + 25 x id))
    cost = 1 + (1 + 25 * (1 + 25 * 1))
    assert r.json()["errors"][0]["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": 50}


async def test_several_operations_without_a_name_are_refused_not_the_first_run(
    tiny_client: httpx.AsyncClient,
) -> None:
    query = "mutation Touch { touch } query Hello { hello }"
    r = await post(tiny_client, {"query": query})
    assert r.status_code == 400
    body = r.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    assert "2 operations (Touch, Hello)" in error["message"]
    assert "operationName" in error["message"]
    # Naming one runs it.
    named = await post(tiny_client, {"query": query, "operationName": "Hello"})
    assert named.json() == {"data": {"hello": "hello world"}}
