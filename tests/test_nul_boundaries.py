"""A NUL character (U+0000) in any unauthenticated input: a clear 4xx on both databases, never a 500.

PostgreSQL refuses U+0000 in text parameters, so any value that reaches a query unchecked turns into a
server error there while SQLite answers normally; every boundary is probed on both.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.conftest import Tenant

NUL = "\u0000"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/oauth/github/callback", {"params": {"state": f"s{NUL}", "code": f"c{NUL}"}}),
        ("GET", "/oauth/jira/callback", {"params": {"state": f"s{NUL}", "error": f"e{NUL}"}}),
        ("POST", "/hooks/github/tok%00en", {"content": b"{}"}),
        (
            "POST",
            "/oauth/token",
            {"data": {"grant_type": "client_credentials", "client_id": f"a{NUL}", "client_secret": "b"}},
        ),
        (
            "POST",
            "/oauth/token",
            {
                "data": {
                    "grant_type": "authorization_code",
                    "code": f"gc_{NUL}",
                    "client_id": "x",
                    "client_secret": "y",
                }
            },
        ),
        (
            "POST",
            "/oauth/token",
            {
                "data": {
                    "grant_type": "refresh_token",
                    "refresh_token": f"cdr_{NUL}",
                    "client_id": "x",
                    "client_secret": "y",
                }
            },
        ),
        (
            "POST",
            "/oauth/token",
            {
                "data": {"grant_type": "client_credentials"},
                "headers": {"Authorization": "Basic " + base64.b64encode(f"a{NUL}:b".encode()).decode()},
            },
        ),
        (
            "POST",
            "/graphql",
            {"json": {"query": "{ viewer { scopes } }"}, "headers": {"Authorization": f"Bearer cdt_{NUL}"}},
        ),
    ],
)
async def test_nul_in_unauthenticated_input_is_a_client_error(
    client: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, object]
) -> None:
    r = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


async def test_nul_in_a_sentry_key_is_a_client_error(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for params in ({"sentry_key": f"{tenant.public_key[:-1]}{NUL}"}, {"sentry_key": NUL}):
        r = await client.post(f"/api/{tenant.project_id}/store/", params=params, json={"message": "x"})
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={NUL}, sentry_version=7"}
    r = await client.post(f"/api/{tenant.project_id}/store/", headers=auth, json={"message": "x"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
