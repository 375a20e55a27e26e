"""The DSN key cache: a key is read from the database once per `KEY_CACHE_SECONDS` per process; a key
disabled or a quota changed in this process applies to the next event, elsewhere once the entry expires."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from conduit.app import create_app
from conduit.db.models import Project, ProjectKey
from conduit.ingest.auth import KEY_CACHE, KeyCache, KeyOwner, forget_key, forget_project
from conduit.runtime import Runtime
from tests.conftest import Tenant, make_settings
from tests.ingest.helpers import event_envelope, exception_event, sentry_auth

# Long enough that no entry expires during a test: what is seen after a change comes from invalidation.
FOREVER = 3600.0


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A process of its own (a runtime with its own key cache) that keeps entries for the whole test."""
    rt = Runtime.create(make_settings(database_url, tmp_path))
    rt.provide(KEY_CACHE, KeyCache(ttl=FOREVER))
    yield rt
    await rt.close()


@pytest.fixture
async def http(server: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(runtime=server))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def send(http: httpx.AsyncClient, tenant: Tenant, project_id: int | None = None) -> httpx.Response:
    return await http.post(
        f"/api/{project_id or tenant.project_id}/envelope/",
        content=event_envelope(exception_event()),
        headers=sentry_auth(tenant.public_key),
    )


async def disable(runtime: Runtime, public_key: str) -> None:
    async with runtime.sessions() as s:
        await s.execute(update(ProjectKey).where(ProjectKey.public_key == public_key).values(is_active=False))
        await s.commit()


async def test_a_key_disabled_elsewhere_works_until_its_entry_expires(
    http: httpx.AsyncClient, server: Runtime, runtime: Runtime, tenant: Tenant
) -> None:
    assert (await send(http, tenant)).status_code == 200
    await disable(runtime, tenant.public_key)
    # Another process disabled it: this one goes on from its cache for at most the entry's life.
    assert (await send(http, tenant)).status_code == 200
    server.get(KEY_CACHE).ttl = 0.0
    r = await send(http, tenant)
    assert r.status_code == 401
    assert r.json()["detail"] == "unknown or disabled DSN key"


async def test_a_key_forgotten_in_this_process_stops_at_once(
    http: httpx.AsyncClient, server: Runtime, runtime: Runtime, tenant: Tenant
) -> None:
    assert (await send(http, tenant)).status_code == 200
    await disable(runtime, tenant.public_key)
    forget_key(server, tenant.public_key)
    assert (await send(http, tenant)).status_code == 401


async def test_a_changed_quota_applies_to_the_next_event_of_this_process(
    http: httpx.AsyncClient, server: Runtime, runtime: Runtime, tenant: Tenant
) -> None:
    assert (await send(http, tenant)).status_code == 200
    assert server.get(KEY_CACHE).get(tenant.public_key) == KeyOwner(
        tenant.organization_id, tenant.project_id, tenant.public_key, None
    )
    async with runtime.sessions() as s:
        await s.execute(update(Project).where(Project.id == tenant.project_id).values(ingest_rate_limit=1))
        await s.commit()
    forget_project(server, tenant.project_id)
    assert (await send(http, tenant)).status_code == 200
    refused = await send(http, tenant)
    assert refused.status_code == 429
    cached = server.get(KEY_CACHE).get(tenant.public_key)
    assert cached is not None and cached.rate_limit == 1


async def test_a_cached_key_is_still_checked_against_the_project_in_the_url(
    http: httpx.AsyncClient, tenant: Tenant, tenant2: Tenant
) -> None:
    assert (await send(http, tenant)).status_code == 200
    r = await send(http, tenant, project_id=tenant2.project_id)
    assert r.status_code == 403
    assert r.json()["detail"] == f"this DSN key does not belong to project {tenant2.project_id}"


async def test_unknown_keys_are_not_cached(http: httpx.AsyncClient, server: Runtime, tenant: Tenant) -> None:
    guesses = [secrets.token_hex(16) for _ in range(50)]
    for key in guesses:
        r = await http.post(
            f"/api/{tenant.project_id}/envelope/",
            content=event_envelope(exception_event()),
            headers=sentry_auth(key),
        )
        assert r.status_code == 401
    cache = server.get(KEY_CACHE)
    assert all(cache.get(key) is None for key in guesses)


def owner(n: int, project_id: int = 1) -> KeyOwner:
    return KeyOwner(organization_id=1, project_id=project_id, public_key=f"key{n}")


def test_the_cache_holds_at_most_its_size_dropping_the_least_recently_used() -> None:
    cache = KeyCache(ttl=FOREVER, size=3)
    for n in range(3):
        cache.put(owner(n))
    assert cache.get("key0") is not None  # now the most recently used
    cache.put(owner(3))
    assert [cache.get(f"key{n}") is not None for n in range(4)] == [True, False, True, True]


def test_forget_project_drops_only_that_projects_keys() -> None:
    cache = KeyCache(ttl=FOREVER)
    cache.put(owner(1, project_id=1))
    cache.put(owner(2, project_id=2))
    cache.forget_project(1)
    assert cache.get("key1") is None
    assert cache.get("key2") is not None


def test_an_expired_entry_is_gone() -> None:
    cache = KeyCache(ttl=0.0)
    cache.put(owner(1))
    assert cache.get("key1") is None


def test_a_read_that_began_before_a_forget_is_not_kept() -> None:
    cache = KeyCache(ttl=FOREVER)
    began = cache.generation
    cache.forget_key("key1")  # e.g. the key was disabled while its old row was being read
    cache.put(owner(1), began)
    assert cache.get("key1") is None
    cache.put(owner(1), cache.generation)
    assert cache.get("key1") is not None
