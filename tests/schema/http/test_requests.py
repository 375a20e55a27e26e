"""Requests refused before GraphQL runs: method, content type, size, malformed bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from .conftest import AUTH

JSON = {"Content-Type": "application/json"}


def error_of(r: httpx.Response) -> tuple[str, str]:
    error = r.json()["errors"][0]
    return error["extensions"]["code"], error["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'"query"', "must be a JSON object"),
        (b'[{"query": "{ hello }"}]', "batched requests are not supported"),
        (b"{}", "`query` is missing"),
        (b'{"query": 42}', "`query` must be a string, not a number"),
        (b'{"query": {"a": 1}}', "`query` must be a string, not an object"),
        (b'{"query": ""}', "`query` must be a non-empty GraphQL document"),
        (b'{"query": "{ hello }", "variables": [1]}', "`variables` must be an object, not an array"),
        (b'{"query": "{ hello }", "variables": "x"}', "`variables` must be an object, not a string"),
        (b'{"query": "{ hello }", "operationName": 1}', "`operationName` must be a string, not a number"),
        (b'{"query": "{ hello }", "extensions": true}', "`extensions` must be an object, not a boolean"),
    ],
)
async def test_malformed_bodies_get_400_saying_what_is_wrong(
    tiny_client: httpx.AsyncClient, body: bytes, fragment: str
) -> None:
    for accept in ("application/json", "application/graphql-response+json"):
        r = await tiny_client.post("/graphql", content=body, headers={**AUTH, **JSON, "Accept": accept})
        assert r.status_code == 400, r.text
        code, message = error_of(r)
        assert code == "BAD_REQUEST"
        assert fragment in message


async def test_null_variables_and_operation_name_are_accepted(tiny_client: httpx.AsyncClient) -> None:
    body = {"query": "{ hello }", "variables": None, "operationName": None, "extensions": None}
    r = await tiny_client.post("/graphql", json=body, headers=AUTH)
    assert r.status_code == 200
    assert r.json() == {"data": {"hello": "hello world"}}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/graphql",
        "application/json; charset=latin-1",
    ],
)
async def test_post_without_json_content_type_is_415(
    tiny_client: httpx.AsyncClient, content_type: str
) -> None:
    r = await tiny_client.post(
        "/graphql", content=b'{"query": "{ hello }"}', headers={**AUTH, "Content-Type": content_type}
    )
    assert r.status_code == 415
    code, message = error_of(r)
    assert code == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in message


async def test_post_without_content_type_is_415(tiny_client: httpx.AsyncClient) -> None:
    r = await tiny_client.post("/graphql", content=b'{"query": "{ hello }"}', headers=AUTH)
    assert r.status_code == 415
    assert "none was sent" in error_of(r)[1]


async def test_json_with_utf8_charset_is_accepted(tiny_client: httpx.AsyncClient) -> None:
    r = await tiny_client.post(
        "/graphql",
        content=b'{"query": "{ hello }"}',
        headers={**AUTH, "Content-Type": "application/json; charset=UTF-8"},
    )
    assert r.status_code == 200


async def test_declared_oversized_body_is_413(tiny_client: httpx.AsyncClient) -> None:
    padding = "#" + "x" * (70 * 1024) + "\n"
    r = await tiny_client.post("/graphql", json={"query": padding + "{ hello }"}, headers=AUTH)
    assert r.status_code == 413
    code, message = error_of(r)
    assert code == "PAYLOAD_TOO_LARGE"
    assert str(64 * 1024) in message


async def test_streamed_oversized_body_is_413(tiny_client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "'
        for _ in range(100):
            yield b"#" * 1024
        yield b'"}'

    # A generator body is sent without Content-Length, so only the read limit can catch it.
    r = await tiny_client.post("/graphql", content=chunks(), headers={**AUTH, **JSON})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413


async def test_body_under_the_limit_is_served(tiny_client: httpx.AsyncClient) -> None:
    padding = "#" + "x" * (60 * 1024) + "\n"
    r = await tiny_client.post("/graphql", json={"query": padding + "{ hello }"}, headers=AUTH)
    assert r.status_code == 200


async def test_get_query_is_405(tiny_client: httpx.AsyncClient) -> None:
    for accept in ("application/json", "text/html"):
        r = await tiny_client.get(
            "/graphql", params={"query": "{ hello }"}, headers={**AUTH, "Accept": accept}
        )
        assert r.status_code == 405
        assert r.headers["allow"] == "POST"
        assert error_of(r)[0] == "METHOD_NOT_ALLOWED"


async def test_get_mutation_is_405(tiny_client: httpx.AsyncClient) -> None:
    r = await tiny_client.get("/graphql", params={"query": "mutation { touch }"}, headers=AUTH)
    assert r.status_code == 405


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405(tiny_client: httpx.AsyncClient, method: str) -> None:
    r = await tiny_client.request(method, "/graphql", json={"query": "{ hello }"}, headers=AUTH)
    assert r.status_code == 405


async def test_mutation_over_post_runs(tiny_client: httpx.AsyncClient) -> None:
    r = await tiny_client.post("/graphql", json={"query": "mutation { touch }"}, headers=AUTH)
    assert r.json() == {"data": {"touch": True}}
