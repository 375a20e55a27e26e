"""`POST /oauth/token` holds at most its small body limit of an unauthenticated caller's bytes, and
never waits on a body forever. Real sockets: the client here misbehaves the ways httpx will not."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from conduit.apps.oauth import MAX_BODY
from conduit.runtime import Runtime
from tests import rawhttp
from tests.conftest import LiveServer
from tests.logrecords import HUNG_UP, SERVER_LOGGERS, Records, recording

BODY_TIMEOUT = 1.0
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(runtime.settings.model_copy(update={"http_body_timeout": BODY_TIMEOUT})) as live:
        yield live


async def test_ten_gigabytes_declared_is_413_without_waiting(server: LiveServer) -> None:
    r = await rawhttp.send(server.port, "POST", "/oauth/token", {**FORM, "Content-Length": "10000000000"})
    assert r.status == 413
    assert r.json() == {
        "error": "invalid_request",
        "error_description": f"the request body is larger than the limit of {MAX_BODY} bytes",
    }
    assert r.headers["cache-control"] == "no-store"


async def test_a_long_chunked_body_is_refused_before_it_ends(server: LiveServer) -> None:
    # Four times the limit and no terminating chunk: the answer cannot have waited for the end.
    body = b"".join(rawhttp.chunk(b"a" * 4096) for _ in range(MAX_BODY * 4 // 4096))
    r = await rawhttp.send(
        server.port, "POST", "/oauth/token", {**FORM, "Transfer-Encoding": "chunked"}, body
    )
    assert r.status == 413 and r.json()["error"] == "invalid_request"


async def test_a_stalled_body_is_408(server: LiveServer) -> None:
    r = await rawhttp.send(
        server.port, "POST", "/oauth/token", {**FORM, "Content-Length": "200"}, b"grant_type="
    )
    assert r.status == 408
    assert r.json()["error_description"] == f"the request body did not arrive within {BODY_TIMEOUT:g} seconds"


@pytest.fixture
def logged() -> Iterator[Records]:
    with recording(SERVER_LOGGERS, until=HUNG_UP) as records:
        yield records


async def test_a_client_hanging_up_mid_body_is_not_a_server_error(
    server: LiveServer, logged: Records
) -> None:
    await rawhttp.hang_up(
        server.port, "POST", "/oauth/token", {**FORM, "Content-Length": "500"}, b"grant_type=autho"
    )
    assert logged.seen.wait(30), logged.messages()
    assert logged.messages(logging.ERROR) == []
