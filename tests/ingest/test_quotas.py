"""DSN key quotas over real HTTP: a key over its quota gets 429 with `Retry-After` and
`X-Sentry-Rate-Limits`, stores nothing and is counted as dropped; other keys never notice; two servers
on one Redis share the count; the real sentry-sdk backs off. The limiter's clock is the test's."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sentry_sdk.utils import event_from_exception

from conduit.quotas import MemoryStore, RedisStore
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.ingest.helpers import envelope, events_of, sentry_auth
from tests.quotahelpers import (
    REDIS_URL,
    Clock,
    delete_keys,
    limited_client,
    quota_server,
    redis_or_skip,
    send_event,
)


def rate_limited_drops() -> float:
    value = REGISTRY.get_sample_value("conduit_ingest_events_dropped_total", {"reason": "rate_limited"})
    return value or 0.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http(runtime: Runtime, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with limited_client(runtime.settings, clock, ingest_rate_limit=3) as client:
        yield client


async def test_under_the_quota_events_are_stored_as_ever(
    http: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    for _ in range(3):
        r = await send_event(http, tenant)
        assert r.status_code == 200, r.text
        assert "retry-after" not in r.headers and "x-sentry-rate-limits" not in r.headers
    assert len(await events_of(runtime, tenant.project_id)) == 3


async def test_over_the_quota_is_429_with_both_headers_and_nothing_stored(
    http: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, clock: Clock
) -> None:
    for _ in range(3):
        assert (await send_event(http, tenant)).status_code == 200
    dropped = rate_limited_drops()

    r = await send_event(http, tenant)
    assert r.status_code == 429
    # 3 per minute: one more every 20 s once the burst is spent.
    assert r.headers["retry-after"] == "20"
    assert r.headers["x-sentry-rate-limits"] == "20:error;default:key:key_quota"
    assert "quota of 3 events per minute" in r.json()["detail"]
    assert r.headers["x-sentry-error"] == r.json()["detail"]
    # Browser SDKs post cross-origin: they must be able to read the headers that tell them to back off.
    exposed = r.headers["access-control-expose-headers"]
    assert "x-sentry-rate-limits" in exposed and "retry-after" in exposed
    assert rate_limited_drops() == dropped + 1

    clock.advance(8)
    r = await send_event(http, tenant, kind="store")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "12"
    assert r.headers["x-sentry-rate-limits"] == "12:error;default:key:key_quota"
    assert len(await events_of(runtime, tenant.project_id)) == 3

    clock.advance(12)
    assert (await send_event(http, tenant)).status_code == 200
    assert (await send_event(http, tenant)).status_code == 429
    assert len(await events_of(runtime, tenant.project_id)) == 4
    assert rate_limited_drops() == dropped + 3


async def test_envelopes_without_an_event_are_not_counted(
    http: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    session = envelope(({"type": "session"}, b'{"sid": "abc", "status": "ok"}'))
    for _ in range(5):
        r = await http.post(
            f"/api/{tenant.project_id}/envelope/", content=session, headers=sentry_auth(tenant.public_key)
        )
        assert r.status_code == 200
    for _ in range(3):
        assert (await send_event(http, tenant)).status_code == 200
    # Over the quota, what carries no event is still accepted (and dropped, as ever).
    r = await http.post(
        f"/api/{tenant.project_id}/envelope/", content=session, headers=sentry_auth(tenant.public_key)
    )
    assert r.status_code == 200


async def test_refusals_that_come_first_are_not_hidden_by_the_quota(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    for _ in range(3):
        assert (await send_event(http, tenant)).status_code == 200
    # A bad key or a malformed event is told as such, not as a quota, and costs the quota nothing.
    r = await http.post(f"/api/{tenant.project_id}/envelope/", content=b"{}\n", headers=sentry_auth("nope"))
    assert r.status_code == 401
    r = await http.post(
        f"/api/{tenant.project_id}/envelope/",
        content=b'{}\n{"type": "event"}\nnot json\n',
        headers=sentry_auth(tenant.public_key),
    )
    assert r.status_code == 400


async def test_one_keys_flood_never_throttles_another_projects_key(
    http: httpx.AsyncClient, tenant: Tenant, tenant2: Tenant, runtime: Runtime
) -> None:
    statuses = await asyncio.gather(*(send_event(http, tenant) for _ in range(12)))
    assert sorted(r.status_code for r in statuses) == [200] * 3 + [429] * 9
    for _ in range(3):
        r = await send_event(http, tenant2)
        assert r.status_code == 200, r.text
    assert len(await events_of(runtime, tenant.project_id)) == 3
    assert len(await events_of(runtime, tenant2.project_id)) == 3


async def test_two_servers_share_the_quota_through_redis(
    runtime: Runtime, tenant: Tenant, tenant2: Tenant, clock: Clock
) -> None:
    admin = await redis_or_skip()
    prefix = f"conduit:test:quota:{secrets.token_hex(6)}"

    def store() -> RedisStore:
        return RedisStore(Redis.from_url(REDIS_URL), prefix=prefix, clock=clock)

    try:
        with (
            quota_server(runtime.settings, store(), ingest_rate_limit=3) as one,
            quota_server(runtime.settings, store(), ingest_rate_limit=3) as two,
        ):
            async with (
                httpx.AsyncClient(base_url=one.url, timeout=10) as a,
                httpx.AsyncClient(base_url=two.url, timeout=10) as b,
            ):
                assert [(await send_event(c, tenant)).status_code for c in (a, b, a)] == [200, 200, 200]
                refused = await send_event(b, tenant)
                assert refused.status_code == 429
                assert refused.headers["x-sentry-rate-limits"] == "20:error;default:key:key_quota"
                assert (await send_event(a, tenant)).status_code == 429
                # Shared counting, still per key.
                assert (await send_event(b, tenant2)).status_code == 200
                clock.advance(20)
                assert (await send_event(b, tenant)).status_code == 200
                assert (await send_event(a, tenant)).status_code == 429
        assert len(await events_of(runtime, tenant.project_id)) == 4
    finally:
        await delete_keys(admin, prefix)
        await admin.aclose()


def divide(a: int, b: int) -> float:
    return a / b


async def test_the_sentry_sdk_backs_off(runtime: Runtime, tenant: Tenant, clock: Clock) -> None:
    with quota_server(runtime.settings, MemoryStore(clock), ingest_rate_limit=1) as live:
        host = live.url.split("://", 1)[1]
        client = sentry_sdk.Client(
            f"http://{tenant.public_key}@{host}/{tenant.project_id}", default_integrations=False
        )
        transport: Any = client.transport
        try:

            async def capture() -> None:
                try:
                    divide(1, 0)
                except ZeroDivisionError as exc:
                    event, hint = event_from_exception(exc, client_options=client.options)
                client.capture_event(event, hint)
                await asyncio.to_thread(client.flush, 10)

            dropped = rate_limited_drops()
            await capture()
            assert not transport._disabled_until
            await capture()
            assert rate_limited_drops() == dropped + 1
            # The SDK parsed the header: errors are off for the minute the server asked for.
            assert set(transport._disabled_until) >= {"error", "default"}
            assert transport._check_disabled("error")
            await capture()
            # The third event never left the process.
            assert rate_limited_drops() == dropped + 1
        finally:
            await asyncio.to_thread(client.close, 10)
    assert len(await events_of(runtime, tenant.project_id)) == 1
