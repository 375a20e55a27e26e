"""Who may send events where: missing, malformed, unknown, disabled and cross-project keys."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from conduit.db.models import ProjectKey
from conduit.ingest.auth import parse_auth_header
from conduit.ingest.errors import Unauthorized
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.ingest.helpers import event_envelope, events_of, exception_event, issues_of, sentry_auth

UNKNOWN_KEY = "0" * 32


def test_parse_auth_header() -> None:
    assert parse_auth_header("Sentry sentry_key=abc, sentry_version=7,sentry_client=raven-js/3.0") == {
        "sentry_key": "abc",
        "sentry_version": "7",
        "sentry_client": "raven-js/3.0",
    }
    assert parse_auth_header('sentry  sentry_key="abc"')["sentry_key"] == "abc"
    with pytest.raises(Unauthorized, match="Sentry scheme"):
        parse_auth_header("Bearer abc")


async def post(client: httpx.AsyncClient, project_id: int, **kwargs: object) -> httpx.Response:
    body = event_envelope(exception_event())
    return await client.post(f"/api/{project_id}/envelope/", content=body, **kwargs)  # type: ignore[arg-type]


async def test_missing_auth_is_401_and_stores_nothing(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    r = await post(client, tenant.project_id)
    assert r.status_code == 401
    assert "missing authorization" in r.json()["detail"]
    r = await client.post(f"/api/{tenant.project_id}/store/", content=b'{"message":"x"}')
    assert r.status_code == 401
    assert await issues_of(runtime, tenant.project_id) == []


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"X-Sentry-Auth": "Sentry sentry_version=7"}, "has no sentry_key"),
        ({"X-Sentry-Auth": "Basic abc"}, "Sentry scheme"),
        ({"X-Sentry-Auth": "Sentry sentry_key=a'b;c"}, "malformed sentry_key"),
        (sentry_auth(UNKNOWN_KEY), "unknown or disabled DSN key"),
    ],
)
async def test_bad_keys_are_401(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, headers: dict[str, str], detail: str
) -> None:
    r = await post(client, tenant.project_id, headers=headers)
    assert r.status_code == 401
    assert detail in r.json()["detail"]
    assert await events_of(runtime, tenant.project_id) == []


async def test_disabled_key_is_401(client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime) -> None:
    async with runtime.sessions() as s:
        await s.execute(
            update(ProjectKey).where(ProjectKey.public_key == tenant.public_key).values(is_active=False)
        )
        await s.commit()
    r = await post(client, tenant.project_id, headers=sentry_auth(tenant.public_key))
    assert r.status_code == 401
    assert r.json()["detail"] == "unknown or disabled DSN key"
    assert await events_of(runtime, tenant.project_id) == []


async def test_key_of_another_project_is_403(
    client: httpx.AsyncClient, tenant: Tenant, tenant2: Tenant, runtime: Runtime
) -> None:
    r = await post(client, tenant.project_id, headers=sentry_auth(tenant2.public_key))
    assert r.status_code == 403
    assert r.json()["detail"] == f"this DSN key does not belong to project {tenant.project_id}"
    assert await events_of(runtime, tenant.project_id) == []
    assert await events_of(runtime, tenant2.project_id) == []


async def test_dsn_in_envelope_of_another_project_is_403(
    client: httpx.AsyncClient, tenant: Tenant, tenant2: Tenant, runtime: Runtime
) -> None:
    body = event_envelope(exception_event(), {"dsn": tenant2.dsn})
    r = await client.post(f"/api/{tenant.project_id}/envelope/", content=body)
    assert r.status_code == 403
    assert await events_of(runtime, tenant.project_id) == []


async def test_unknown_project_answers_like_a_bad_key(client: httpx.AsyncClient, tenant: Tenant) -> None:
    missing = 10**12
    # An unknown key gets the same answer whether the project exists or not.
    on_missing = await post(client, missing, headers=sentry_auth(UNKNOWN_KEY))
    on_existing = await post(client, tenant.project_id, headers=sentry_auth(UNKNOWN_KEY))
    assert (on_missing.status_code, on_missing.json()) == (on_existing.status_code, on_existing.json())
    # A valid key aimed elsewhere gets the same answer for a missing project as for someone else's.
    r = await post(client, missing, headers=sentry_auth(tenant.public_key))
    assert r.status_code == 403
    assert r.json()["detail"] == f"this DSN key does not belong to project {missing}"


async def test_non_numeric_project_id_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await post(client, "abc", headers=sentry_auth(tenant.public_key))  # type: ignore[arg-type]
    assert r.status_code == 400
    assert "invalid project id" in r.json()["detail"]
