"""Apps over OAuth: grant code exchange, refresh with a grace window, internal apps, errors per RFC 6749."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from sqlalchemy import update

from conduit.apps import tokens as app_tokens
from conduit.db.base import utcnow
from conduit.db.models import AppToken
from conduit.runtime import Runtime
from tests.apps.conftest import GQL
from tests.conftest import Tenant

VIEWER = "{ viewer { scopes organizationId } }"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def token(
    http: httpx.AsyncClient, data: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post("/oauth/token", data=data, headers=headers or {})


async def installed(
    gql: GQL, owner: Tenant, org: Tenant, **fields: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    app = await gql.create_app(owner.token, **fields)
    return app, await gql.install(org.token, app["app"]["id"])


async def graphql(http: httpx.AsyncClient, access: str, query: str = VIEWER) -> httpx.Response:
    return await http.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {access}"})


async def test_code_exchange_gives_tokens_limited_to_the_installing_org(
    http: httpx.AsyncClient, gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    app, install = await installed(
        gql, tenant, tenant2, scopes=["issue:read"], redirectUrl="https://app.example/cb"
    )
    assert install["installation"]["status"] == "INSTALLED"
    assert install["redirectUrl"].startswith("https://app.example/cb?code=gc_")
    r = await token(
        http,
        {"grant_type": "authorization_code", "code": install["code"]},
        basic(app["app"]["clientId"], app["clientSecret"]),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "issue:read"
    assert 8 * 3600 - 60 < body["expires_in"] <= 8 * 3600
    assert r.headers["cache-control"] == "no-store"
    seen = (await graphql(http, body["access_token"])).json()["data"]["viewer"]
    assert seen["scopes"] == ["issue:read"]
    own_org = (await http.post("/graphql", json={"query": VIEWER}, headers=tenant2.auth)).json()
    assert seen["organizationId"] == own_org["data"]["viewer"]["organizationId"]
    # The scope the app was not granted is refused.
    denied = (await graphql(http, body["access_token"], "{ apps { id } }")).json()
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The code is single use.
    again = await token(
        http,
        {
            "grant_type": "authorization_code",
            "code": install["code"],
            "client_id": app["app"]["clientId"],
            "client_secret": app["clientSecret"],
        },
    )
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "the grant code was already used; the tokens issued for it are revoked",
    }


async def test_a_reused_code_revokes_every_token_that_came_of_it(
    http: httpx.AsyncClient, gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    app, install = await installed(gql, tenant, tenant2)
    creds = basic(app["app"]["clientId"], app["clientSecret"])
    exchange = {"grant_type": "authorization_code", "code": install["code"]}
    first = (await token(http, exchange, creds)).json()
    assert (await graphql(http, first["access_token"])).status_code == 200
    refreshed = (
        await token(http, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, creds)
    ).json()
    assert (await graphql(http, refreshed["access_token"])).status_code == 200
    # Another installation's tokens of the same app are not its descendants and keep working.
    other = await gql.install(tenant.token, app["app"]["id"])
    unrelated = (await token(http, {"grant_type": "authorization_code", "code": other["code"]}, creds)).json()

    again = await token(http, exchange, creds)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert "revoked" in again.json()["error_description"]
    for access in (first["access_token"], refreshed["access_token"]):
        assert (await graphql(http, access)).status_code == 401
    for refresh_token in (first["refresh_token"], refreshed["refresh_token"]):
        r = await token(http, {"grant_type": "refresh_token", "refresh_token": refresh_token}, creds)
        assert r.json()["error"] == "invalid_grant"
    assert (await graphql(http, unrelated["access_token"])).status_code == 200
    # A third try finds nothing left to revoke and says only that the code was used.
    third = await token(http, exchange, creds)
    assert third.json()["error_description"] == "the grant code was already used"


async def test_verify_install_stays_pending_until_the_code_is_exchanged(
    http: httpx.AsyncClient, gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    app, install = await installed(gql, tenant, tenant2, verifyInstall=True)
    assert install["installation"]["status"] == "PENDING"
    creds = basic(app["app"]["clientId"], app["clientSecret"])
    r = await token(http, {"grant_type": "authorization_code", "code": install["code"]}, creds)
    assert r.status_code == 200
    listed = await gql(tenant2.token, "{ appInstallations { id status } }")
    assert {"id": install["installation"]["id"], "status": "INSTALLED"} in listed["appInstallations"]


async def test_refresh_rotates_and_a_retry_within_the_grace_window_gets_the_same_pair(
    http: httpx.AsyncClient, gql: GQL, rt: Runtime, tenant: Tenant, tenant2: Tenant
) -> None:
    app, install = await installed(gql, tenant, tenant2)
    creds = basic(app["app"]["clientId"], app["clientSecret"])
    first = (await token(http, {"grant_type": "authorization_code", "code": install["code"]}, creds)).json()
    refreshed = await token(
        http, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, creds
    )
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["refresh_token"] != first["refresh_token"] and new["access_token"] != first["access_token"]
    # The response was "lost": the client retries with the old refresh token and gets the same new pair.
    retry = (
        await token(http, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, creds)
    ).json()
    assert (retry["access_token"], retry["refresh_token"]) == (new["access_token"], new["refresh_token"])
    assert (await graphql(http, new["access_token"])).status_code == 200
    # Past the grace window the old refresh token is refused; the new one keeps working.
    async with rt.sessions() as session:
        await session.execute(
            update(AppToken)
            .where(
                AppToken.rotated_at.is_not(None),
                AppToken.installation_id.in_(
                    [
                        int(
                            base64.urlsafe_b64decode(install["installation"]["id"] + "==")
                            .decode()
                            .split(":")[1]
                        )
                    ]
                ),
            )
            .values(rotated_at=utcnow() - app_tokens.REFRESH_GRACE * 2)
        )
        await session.commit()
    late = await token(http, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, creds)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    assert (await graphql(http, first["access_token"])).status_code == 401
    newest = await token(http, {"grant_type": "refresh_token", "refresh_token": new["refresh_token"]}, creds)
    assert newest.status_code == 200


async def test_uninstall_revokes_tokens(
    http: httpx.AsyncClient, gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    app, install = await installed(gql, tenant, tenant2)
    creds = basic(app["app"]["clientId"], app["clientSecret"])
    pair = (await token(http, {"grant_type": "authorization_code", "code": install["code"]}, creds)).json()
    assert (await graphql(http, pair["access_token"])).status_code == 200
    out = await gql(
        tenant2.token,
        "mutation($id: ID!) { uninstallApp(installationId: $id) { __typename } }",
        {"id": install["installation"]["id"]},
    )
    assert out["uninstallApp"]["__typename"] == "UninstallAppPayload"
    assert (await graphql(http, pair["access_token"])).status_code == 401
    r = await token(http, {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}, creds)
    assert r.json()["error"] == "invalid_grant"


async def test_internal_app_is_installed_at_once_and_mints_its_own_tokens(
    http: httpx.AsyncClient, gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    app = await gql.create_app(tenant.token, kind="INTERNAL", scopes=["issue:read", "app:read"])
    assert app["installation"] is not None
    creds = basic(app["app"]["clientId"], app["clientSecret"])
    r = await token(http, {"grant_type": "client_credentials"}, creds)
    assert r.status_code == 200, r.text
    assert (await graphql(http, r.json()["access_token"], "{ apps { id } }")).json()["data"]["apps"]
    other = await gql(
        tenant2.token,
        "mutation($id: ID!) { installApp(appId: $id) { __typename } }",
        {"id": app["app"]["id"]},
    )
    assert other["installApp"]["__typename"] == "NotFoundError"


async def test_public_app_cannot_use_client_credentials(
    http: httpx.AsyncClient, gql: GQL, tenant: Tenant
) -> None:
    app = await gql.create_app(tenant.token)
    r = await token(
        http, {"grant_type": "client_credentials"}, basic(app["app"]["clientId"], app["clientSecret"])
    )
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


async def test_malformed_and_unauthorised_token_requests(
    http: httpx.AsyncClient, gql: GQL, tenant: Tenant
) -> None:
    app = await gql.create_app(tenant.token)
    creds = basic(app["app"]["clientId"], app["clientSecret"])
    cases: list[tuple[dict[str, str], dict[str, str], int, str]] = [
        ({"grant_type": "password"}, creds, 400, "unsupported_grant_type"),
        ({}, creds, 400, "invalid_request"),
        ({"grant_type": "authorization_code"}, creds, 400, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "gc_nope"}, creds, 400, "invalid_grant"),
        ({"grant_type": "authorization_code", "code": "not-a-code"}, creds, 400, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "cdr_nope"}, creds, 400, "invalid_grant"),
        (
            {"grant_type": "authorization_code", "code": "gc_x"},
            basic(app["app"]["clientId"], "cds_wrong"),
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "authorization_code", "code": "gc_x"},
            basic("cdc_unknown", "cds_x"),
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "authorization_code", "code": "gc_x"},
            {"Authorization": "Basic !!!"},
            401,
            "invalid_client",
        ),
        ({"grant_type": "authorization_code", "code": "gc_x"}, {}, 401, "invalid_client"),
        (
            {"grant_type": "authorization_code", "code": "gc_x", "client_id": "a"},
            creds,
            400,
            "invalid_request",
        ),
    ]
    for data, headers, status, error in cases:
        r = await token(http, data, headers)
        assert (r.status_code, r.json()["error"]) == (status, error), (data, r.text)
        assert r.json()["error_description"]
        if status == 401:
            assert r.headers["www-authenticate"].startswith("Basic")
    as_json = await http.post("/oauth/token", json={"grant_type": "client_credentials"}, headers=creds)
    assert as_json.status_code == 400 and "x-www-form-urlencoded" in as_json.json()["error_description"]


async def test_a_code_issued_to_another_app_is_refused(
    http: httpx.AsyncClient, gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    _, install = await installed(gql, tenant, tenant2)
    other = await gql.create_app(tenant.token)
    r = await token(
        http,
        {"grant_type": "authorization_code", "code": install["code"]},
        basic(other["app"]["clientId"], other["clientSecret"]),
    )
    assert r.json() == {
        "error": "invalid_grant",
        "error_description": "the grant was not issued to this client",
    }
