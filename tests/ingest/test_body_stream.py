"""Ingest bodies over a real socket: a declared 10 GB is refused before any byte, a stalled body ends in
408, and a client hanging up mid-body is answered quietly (no unhandled-exception log)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from conduit.runtime import Runtime
from tests import rawhttp
from tests.conftest import LiveServer, Tenant
from tests.logrecords import HUNG_UP, SERVER_LOGGERS, Records, recording

BODY_TIMEOUT = 1.0


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(runtime.settings.model_copy(update={"http_body_timeout": BODY_TIMEOUT})) as live:
        yield live


def auth(tenant: Tenant) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={tenant.public_key}, sentry_version=7"}


@pytest.fixture
def logged() -> Iterator[Records]:
    with recording(SERVER_LOGGERS, until=HUNG_UP) as records:
        yield records


async def test_ten_gigabytes_declared_is_413_without_waiting(server: LiveServer, tenant: Tenant) -> None:
    # The body never comes: the answer must not wait for it (nor for the body deadline).
    headers = {**auth(tenant), "Content-Length": "10000000000", "Content-Type": "application/json"}
    for endpoint in ("store", "envelope"):
        r = await rawhttp.send(server.port, "POST", f"/api/{tenant.project_id}/{endpoint}/", headers)
        assert r.status == 413
        assert r.json()["detail"].startswith("request body is larger than the limit")
        assert r.headers["x-sentry-error"] == r.json()["detail"]


async def test_chunked_body_over_the_limit_is_refused_before_it_ends(
    server: LiveServer, tenant: Tenant
) -> None:
    limit = server.settings.ingest_max_compressed_bytes
    # More than the limit, and no terminating chunk: only a counting reader can answer now.
    body = b"".join(rawhttp.chunk(b"x" * 65536) for _ in range(limit // 65536 + 2))
    headers = {**auth(tenant), "Transfer-Encoding": "chunked"}
    r = await rawhttp.send(server.port, "POST", f"/api/{tenant.project_id}/store/", headers, body)
    assert r.status == 413


async def test_a_stalled_body_is_408(server: LiveServer, tenant: Tenant) -> None:
    headers = {**auth(tenant), "Content-Length": "100"}
    r = await rawhttp.send(server.port, "POST", f"/api/{tenant.project_id}/store/", headers, b"{")
    assert r.status == 408
    assert r.json()["detail"] == f"the request body did not arrive within {BODY_TIMEOUT:g} seconds"


async def test_a_client_hanging_up_mid_body_is_not_a_server_error(
    server: LiveServer, tenant: Tenant, logged: Records
) -> None:
    headers = {**auth(tenant), "Content-Length": "1000"}
    await rawhttp.hang_up(server.port, "POST", f"/api/{tenant.project_id}/envelope/", headers, b"{}\n")
    assert logged.seen.wait(30), logged.messages()
    assert logged.messages(logging.ERROR) == []
