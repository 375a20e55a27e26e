"""Content negotiation and the GraphQL-over-HTTP status codes."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest

from conduit.schema.http import negotiate

from .conftest import AUTH

GRAPHQL_RESPONSE = {"Accept": "application/graphql-response+json"}
LEGACY = {"Accept": "application/json"}


async def post(
    client: httpx.AsyncClient, body: Mapping[str, object], headers: dict[str, str]
) -> httpx.Response:
    return await client.post("/graphql", json=body, headers={**AUTH, **headers})


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("application/graphql-response+json", "application/graphql-response+json"),
        ("application/graphql-response+json, application/json;q=0.9", "application/graphql-response+json"),
        ("application/graphql-response+json;q=0.5, application/json", "application/json"),
        ("application/json;q=0.2, application/graphql-response+json", "application/graphql-response+json"),
        ("application/graphql-response+json;q=0", "application/json"),
        ("text/html", "application/json"),
    ],
)
def test_negotiate_picks_the_preferred_media_type(accept: str | None, expected: str) -> None:
    assert negotiate(accept) == expected


async def test_success_uses_the_negotiated_media_type(tiny_client: httpx.AsyncClient) -> None:
    for headers, media in (
        (GRAPHQL_RESPONSE, "application/graphql-response+json"),
        (LEGACY, "application/json"),
    ):
        r = await post(tiny_client, {"query": "{ hello }"}, headers)
        assert r.status_code == 200
        assert r.headers["content-type"] == f"{media}; charset=utf-8"
        assert r.json() == {"data": {"hello": "hello world"}}


async def test_parse_error_is_400_with_graphql_response_json(tiny_client: httpx.AsyncClient) -> None:
    r = await post(tiny_client, {"query": "{ hello"}, GRAPHQL_RESPONSE)
    assert r.status_code == 400
    body = r.json()
    assert "data" not in body
    assert body["errors"][0]["message"].startswith("Syntax Error")


async def test_validation_error_is_400_with_graphql_response_json(tiny_client: httpx.AsyncClient) -> None:
    r = await post(tiny_client, {"query": "{ nope }"}, GRAPHQL_RESPONSE)
    assert r.status_code == 400
    body = r.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "nope" in body["errors"][0]["message"]


async def test_variable_coercion_error_is_400_with_graphql_response_json(
    tiny_client: httpx.AsyncClient,
) -> None:
    # The spec's "Variable coercion failure": 400 with graphql-response+json, 200 with JSON.
    body = {"query": "query($n: String!) { hello(name: $n) }", "variables": {"n": 3}}
    r = await post(tiny_client, body, GRAPHQL_RESPONSE)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/graphql-response+json")
    assert "data" not in r.json()
    assert "$n" in r.json()["errors"][0]["message"]
    legacy = await post(tiny_client, body, LEGACY)
    assert legacy.status_code == 200
    assert "data" not in legacy.json()
    assert legacy.json()["errors"] == r.json()["errors"]


async def test_missing_variable_is_400(tiny_client: httpx.AsyncClient) -> None:
    r = await post(tiny_client, {"query": "query($n: String!) { hello(name: $n) }"}, GRAPHQL_RESPONSE)
    assert r.status_code == 400
    assert "data" not in r.json()


async def test_unknown_operation_name_is_a_request_error(tiny_client: httpx.AsyncClient) -> None:
    body = {"query": "query A { hello } query B { hello }", "operationName": "C"}
    r = await post(tiny_client, body, GRAPHQL_RESPONSE)
    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert "C" in error["message"]
    assert error["extensions"] == {"code": "UNKNOWN_OPERATION"}


@pytest.mark.parametrize(
    "query", ["query A { hello } query B { hello }", "query A { hello } mutation B { touch }"]
)
async def test_several_operations_without_operation_name_are_a_request_error(
    tiny_client: httpx.AsyncClient, query: str
) -> None:
    r = await post(tiny_client, {"query": query}, GRAPHQL_RESPONSE)
    assert r.status_code == 400
    assert "data" not in r.json()
    assert r.json()["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    legacy = await post(tiny_client, {"query": query}, LEGACY)
    assert legacy.status_code == 200
    assert "data" not in legacy.json()


async def test_subscription_over_post_is_refused_with_a_pointer(tiny_client: httpx.AsyncClient) -> None:
    r = await post(tiny_client, {"query": "subscription { ticks }"}, GRAPHQL_RESPONSE)
    assert r.status_code == 400
    assert "graphql-transport-ws" in r.json()["errors"][0]["message"]


async def test_partial_data_with_errors_is_200(tiny_client: httpx.AsyncClient) -> None:
    r = await post(tiny_client, {"query": "{ hello refused }"}, GRAPHQL_RESPONSE)
    assert r.status_code == 200
    body = r.json()
    assert body["data"] == {"hello": "hello world", "refused": None}
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert body["errors"][0]["path"] == ["refused"]


@pytest.mark.parametrize("query", ["{ hello", "{ nope }"])
async def test_legacy_json_keeps_200_for_request_errors(tiny_client: httpx.AsyncClient, query: str) -> None:
    for headers in (LEGACY, {}):
        r = await post(tiny_client, {"query": query}, headers)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        assert "data" not in r.json()
        assert r.json()["errors"]


async def test_responses_are_not_cacheable(tiny_client: httpx.AsyncClient) -> None:
    r = await post(tiny_client, {"query": "{ hello }"}, {})
    assert r.headers["cache-control"] == "no-store"
