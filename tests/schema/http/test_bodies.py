"""Request bodies on a real server: announced sizes, slow bodies, clients that hang up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from tests import rawhttp

from .conftest import MAX_BODY_BYTES, TOKEN, Served, tiny_app

BODY_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with Served(tiny_app(http_body_timeout=BODY_TIMEOUT)) as server:
        yield server


def headers(content_length: int) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "Content-Length": str(content_length),
    }


async def test_a_body_announced_too_large_is_refused_at_once(served: Served) -> None:
    # Nothing but the headers is ever sent: the answer cannot wait for the body.
    r = await rawhttp.send(served.port, "POST", "/graphql", headers(10_000_000_000))
    assert r.status == 413
    assert r.json() == {
        "errors": [
            {
                "message": f"the request body is larger than the limit of {MAX_BODY_BYTES} bytes",
                "extensions": {"code": "PAYLOAD_TOO_LARGE"},
            }
        ]
    }


async def test_a_body_that_stops_arriving_gets_408(served: Served) -> None:
    r = await rawhttp.send(served.port, "POST", "/graphql", headers(100), b'{"query": ')
    assert r.status == 408
    [error] = r.json()["errors"]
    assert error["extensions"] == {"code": "REQUEST_TIMEOUT"}
    assert f"within {BODY_TIMEOUT:g} seconds" in error["message"]


async def test_a_client_hanging_up_mid_body_is_not_a_server_error(caplog: pytest.LogCaptureFixture) -> None:
    with Served(tiny_app(http_body_timeout=30)) as served, caplog.at_level(logging.ERROR):
        await rawhttp.hang_up(served.port, "POST", "/graphql", headers(100), b'{"query": ')
        # Wait for the server to have finished with that request, however it ended.
        assert await asyncio.to_thread(served.finished.acquire, timeout=30)
        assert served.errors == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
