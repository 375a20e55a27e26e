"""What quota tests share: a clock that moves only when told, Redis or a skip, a live server whose quotas
count in a given store (and a client of one counting in memory), an event sent as an SDK sends it."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, cast

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from conduit.quotas import QUOTAS, MemoryStore, Quotas, Store
from conduit.runtime import Runtime
from conduit.settings import Settings
from tests.conftest import LiveServer, Tenant
from tests.ingest.helpers import event_envelope, exception_event, sentry_auth

REDIS_URL = os.environ.get("CONDUIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


class Clock:
    """Seconds that move only when a test moves them."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def redis_or_skip() -> Redis:
    client: Redis = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError:
        await client.aclose()
        if IN_CI:
            pytest.fail(f"Redis is required in CI and is not reachable at {REDIS_URL}")
        pytest.skip("Redis not reachable")
    return client


async def delete_keys(admin: Redis, prefix: str) -> None:
    keys = [k async for k in admin.scan_iter(match=f"{prefix}:*")]
    if keys:
        await admin.delete(*keys)


@contextmanager
def quota_server(settings: Settings, store: Store, **updates: Any) -> Iterator[LiveServer]:
    """A live server (settings changed by `updates`) whose quotas count in `store`."""
    server = LiveServer(settings.model_copy(update=updates))
    runtime: Runtime = cast(Starlette, server.server.config.app).state.runtime
    runtime.provide(QUOTAS, Quotas.from_settings(server.settings, store))
    with server:
        yield server


@asynccontextmanager
async def limited_client(settings: Settings, clock: Clock, **limits: int) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a live server whose quotas (`ingest_rate_limit`, `api_rate_limit`) count in memory,
    by `clock`."""
    with quota_server(settings, MemoryStore(clock), **limits) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
            yield client


async def send_event(http: httpx.AsyncClient, tenant: Tenant, kind: str = "envelope") -> httpx.Response:
    """An error event to the project's `envelope` or (older SDKs') `store` endpoint."""
    event = exception_event(value=secrets.token_hex(4))
    path = f"/api/{tenant.project_id}/{kind}/"
    if kind == "envelope":
        return await http.post(path, content=event_envelope(event), headers=sentry_auth(tenant.public_key))
    return await http.post(path, json=event, headers=sentry_auth(tenant.public_key))
