"""Size limits over HTTP: declared length, streamed length, and decompressed size."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import brotli
import httpx
import pytest

from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.ingest.conftest import SMALL_COMPRESSED, SMALL_DECOMPRESSED
from tests.ingest.helpers import event_envelope, events_of, exception_event, sentry_auth


def url(tenant: Tenant) -> str:
    return f"/api/{tenant.project_id}/envelope/"


def big_envelope(size: int) -> bytes:
    return event_envelope(exception_event(extra={"blob": "x" * size}))


async def test_declared_length_over_limit_is_413_before_reading(
    limited_client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    body = big_envelope(SMALL_COMPRESSED * 2)
    r = await limited_client.post(url(tenant), content=body, headers=sentry_auth(tenant.public_key))
    assert r.status_code == 413
    assert r.json()["detail"] == f"request body is larger than the limit of {SMALL_COMPRESSED} bytes"
    assert await events_of(runtime, tenant.project_id) == []


async def test_streamed_body_over_limit_is_413(
    limited_client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the server has to count as it reads.
        for _ in range(100):
            sent.append(1)
            yield b"x" * 1000

    r = await limited_client.post(url(tenant), content=chunks(), headers=sentry_auth(tenant.public_key))
    assert r.status_code == 413
    assert "request body is larger than the limit" in r.json()["detail"]
    assert await events_of(runtime, tenant.project_id) == []


async def test_lying_content_length_is_caught_while_streaming(
    limited_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    headers = {**sentry_auth(tenant.public_key), "Content-Length": "10"}
    r = await limited_client.post(url(tenant), content=chunks(), headers=headers)
    assert r.status_code == 413


@pytest.mark.parametrize(("encoding", "compress"), [("gzip", gzip.compress), ("br", brotli.compress)])
async def test_decompression_bomb_is_413(
    limited_client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, encoding: str, compress: object
) -> None:
    body = compress(b"{}\n" + b" " * (SMALL_DECOMPRESSED * 50))  # type: ignore[operator]
    assert len(body) < SMALL_COMPRESSED
    headers = {**sentry_auth(tenant.public_key), "Content-Encoding": encoding}
    r = await limited_client.post(url(tenant), content=body, headers=headers)
    assert r.status_code == 413
    assert r.json()["detail"] == f"decompressed body is larger than the limit of {SMALL_DECOMPRESSED} bytes"
    assert await events_of(runtime, tenant.project_id) == []


async def test_under_the_limits_is_accepted(
    limited_client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    body = gzip.compress(big_envelope(SMALL_DECOMPRESSED // 2))
    assert len(body) < SMALL_COMPRESSED
    headers = {**sentry_auth(tenant.public_key), "Content-Encoding": "gzip"}
    r = await limited_client.post(url(tenant), content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert len(await events_of(runtime, tenant.project_id)) == 1


async def test_unauthenticated_bomb_is_refused_before_inflating(
    limited_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = gzip.compress(b" " * (SMALL_DECOMPRESSED * 50))
    headers = {**sentry_auth("0" * 32), "Content-Encoding": "gzip"}
    r = await limited_client.post(url(tenant), content=body, headers=headers)
    assert r.status_code == 401
