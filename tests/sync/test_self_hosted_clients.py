"""Self-hosted trackers authorize with their own OAuth client: the operator's secrets never leave for a
host the operator did not configure, over the whole flow a tenant can drive (mutation, unauthenticated
callback, install job, refresh)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from conduit.connectors import get_connectors, registry
from conduit.db.models import Installation, InstallationStatus
from conduit.ids import decode_as
from conduit.webhooks.signing import generate_secret
from tests.connectors.drivers import KEYS, installs_over_oauth, oauth_only
from tests.connectors.tenant_server import TenantServer
from tests.sync.conftest import CLIENTS, CLOUD_CLIENTS, Conduit, Side, wait_for

START = """
mutation($p: String!, $b: String, $id: String, $secret: String, $inst: ID) {
  startInstallation(provider: $p, baseUrl: $b, clientId: $id, clientSecret: $secret, installationId: $inst) {
    __typename
    ... on StartInstallationPayload { authorizeUrl installation { id status } }
    ... on ValidationError { message field }
  }
}"""
READ = """query($id: ID!) { installation(id: $id) {
  id baseUrl status statusReason webhookUrl health { lastError } } }"""


@pytest.fixture
def tenant_server() -> Iterator[TenantServer]:
    with TenantServer() as server:
        yield server


async def callback(conduit: Conduit, provider: str, authorize_url: str) -> httpx.Response:
    """What anyone holding the authorize URL's state can do, unauthenticated: call back with a code."""
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    async with httpx.AsyncClient(timeout=10) as browser:
        return await browser.get(
            f"{conduit.url}/oauth/{provider}/callback",
            params={"state": state, "code": "x"},
            headers={"Accept": "application/json"},
        )


async def settled(conduit: Conduit, pk: int) -> Installation:
    async def done() -> Installation | None:
        row = await conduit.installation(pk)
        return row if row.status is not InstallationStatus.PENDING else None

    found: Installation = await wait_for(done, "the install job to finish")
    return found


@pytest.mark.parametrize("provider", KEYS)
async def test_a_tenant_server_never_receives_the_operators_client_secret(
    conduit: Conduit, tenant_server: TenantServer, provider: str
) -> None:
    # The operator's cloud client is configured, and loopback trackers are allowed (as for the
    # sandbox): neither may let the cloud secret go to a server the tenant names.
    if registry.provider(provider).auth_mode == "app":
        await _signed_tracker_never_sends_its_secret(conduit, tenant_server, provider)
        return
    if not installs_over_oauth(provider):
        await _token_tracker_sends_only_the_tenants_token(conduit, tenant_server, provider)
        return
    started = (await conduit.graphql(START, p=provider, b=tenant_server.url))["startInstallation"]
    assert started["__typename"] == "ValidationError", started
    assert started["field"] == "clientId"
    assert "pass its clientId and clientSecret" in started["message"]

    # With a client of its own, the tenant's server gets that client, and the flow runs to its end.
    own = {"id": "tenant-app", "secret": f"tenant-secret-{secrets.token_hex(4)}"}
    started = (await conduit.graphql(START, p=provider, b=tenant_server.url, **own))["startInstallation"]
    assert started["__typename"] == "StartInstallationPayload", started
    query = parse_qs(urlsplit(started["authorizeUrl"]).query)
    assert query["client_id"] == ["tenant-app"]
    assert (await callback(conduit, provider, started["authorizeUrl"])).status_code == 202
    row = await settled(conduit, decode_as(started["installation"]["id"], "Installation"))
    assert row.status is InstallationStatus.ERROR

    received = tenant_server.requests()
    # Only the code exchange, at the token endpoint of the provider's self-hosted layout.
    token_path = urlsplit(registry.provider(provider).endpoints(tenant_server.url).token).path
    assert [r.path for r in received] == [token_path]
    assert received[0].mentions(own["secret"])
    for client in (*CLOUD_CLIENTS.values(), *CLIENTS.values()):
        assert not any(r.mentions(client.client_secret) for r in received), client.client_id
        assert not any(r.mentions(client.client_id) for r in received), client.client_id


async def test_an_installation_with_its_own_client_completes_against_the_sandbox(
    conduit: Conduit, side: Side
) -> None:
    oauth_only(side.key)
    # `localhost` names the sandbox on another origin than the operator configured (127.0.0.1), so
    # only the client given here can serve it.
    base_url = side.url.replace("127.0.0.1", "localhost")
    missing = (await conduit.graphql(START, p=side.key, b=base_url))["startInstallation"]
    assert missing["__typename"] == "ValidationError" and missing["field"] == "clientId"

    own_id, own_secret = f"tenant-app-{secrets.token_hex(3)}", f"tenant-app-secret-{secrets.token_hex(8)}"
    # Tokens as the sandbox's built-in client gets them (with a refresh token).
    mode = side.sandbox.oauth.clients[side.sandbox.client[0]].policy
    await side.control(
        "POST", "/oauth/clients", json={"client_id": own_id, "client_secret": own_secret, "mode": mode}
    )
    started = (await conduit.graphql(START, p=side.key, b=base_url, id=own_id, secret=own_secret))[
        "startInstallation"
    ]
    assert started["__typename"] == "StartInstallationPayload", started
    assert parse_qs(urlsplit(started["authorizeUrl"]).query)["client_id"] == [own_id]
    async with httpx.AsyncClient(timeout=10) as browser:
        consent = await browser.get(started["authorizeUrl"])
        assert consent.status_code == 302, consent.text
        location = urlsplit(consent.headers["location"])
        done = await browser.get(f"{conduit.url}{location.path}?{location.query}")
    assert done.status_code == 202, done.text
    gid = started["installation"]["id"]
    pk = decode_as(gid, "Installation")
    row = await settled(conduit, pk)
    assert row.status is InstallationStatus.ACTIVE, row.status_reason

    # Kept encrypted, and never shown by the API.
    assert row.oauth_client_id == own_id
    assert row.oauth_client_secret_enc and own_secret not in row.oauth_client_secret_enc
    shown = await conduit.graphql(READ, id=gid)
    assert own_secret not in json.dumps(shown)

    # A refresh authorizes with the same client: the sandbox refuses any other for this grant.
    service = get_connectors(conduit.runtime)
    token = await service.credentials.access_token(pk)
    assert token is not None
    before = service.credentials.refreshes
    renewed = await service.credentials.renew(pk, token)
    assert renewed and renewed != token and service.credentials.refreshes == before + 1
    assert service.bind(await conduit.installation(pk)).client == service.clients.for_installation(row)
    assert (await conduit.installation(pk)).status is InstallationStatus.ACTIVE


@pytest.mark.parametrize("provider", KEYS)
async def test_reconnecting_can_replace_the_client(
    conduit: Conduit, tenant_server: TenantServer, provider: str
) -> None:
    oauth_only(provider)
    first = (
        await conduit.graphql(START, p=provider, b=tenant_server.url, id="old-app", secret="old-secret")
    )["startInstallation"]
    gid = first["installation"]["id"]
    again = (await conduit.graphql(START, p=provider, inst=gid, id="new-app", secret="new-secret"))[
        "startInstallation"
    ]
    assert again["__typename"] == "StartInstallationPayload", again
    assert parse_qs(urlsplit(again["authorizeUrl"]).query)["client_id"] == ["new-app"]
    row = await conduit.installation(decode_as(gid, "Installation"))
    assert row.oauth_client_id == "new-app"
    assert row.oauth_client_secret_enc is not None
    assert conduit.runtime.secrets.decrypt(row.oauth_client_secret_enc) == "new-secret"


CONNECT = """
mutation($p: String!, $t: String!, $b: String) { connectTracker(provider: $p, apiToken: $t, baseUrl: $b) {
  __typename ... on ValidationError { message field } } }"""


async def _token_tracker_sends_only_the_tenants_token(
    conduit: Conduit, tenant_server: TenantServer, provider: str
) -> None:
    """A tracker connected with a pasted token has no OAuth flow to start, and its server gets the
    tenant's token, never an operator's client; a token the server does not take keeps nothing."""
    refused = (await conduit.graphql(START, p=provider, b=tenant_server.url))["startInstallation"]
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "provider"), refused
    token = f"tenant-token-{secrets.token_hex(4)}"
    made = (await conduit.graphql(CONNECT, p=provider, t=token, b=tenant_server.url))["connectTracker"]
    assert (made["__typename"], made["field"]) == ("ValidationError", "apiToken"), made
    assert "HTTP 500" in made["message"]
    received = tenant_server.requests()
    assert received and all(r.mentions(token) for r in received)
    for client in (*CLOUD_CLIENTS.values(), *CLIENTS.values()):
        assert not any(r.mentions(client.client_secret) for r in received), client.client_id
    async with conduit.runtime.sessions() as session:
        kept = (
            await session.execute(
                select(Installation.id).where(
                    Installation.organization_id == conduit.tenant.organization_id,
                    Installation.base_url == tenant_server.url,
                )
            )
        ).all()
    assert kept == []


async def _signed_tracker_never_sends_its_secret(
    conduit: Conduit, tenant_server: TenantServer, provider: str
) -> None:
    """An in-house tracker's calls are signed with the shared secret, which never travels; a server
    that does not answer as the contract says keeps nothing."""
    secret = generate_secret()
    made = (await conduit.graphql(CONNECT, p=provider, t=secret, b=tenant_server.url))["connectTracker"]
    assert (made["__typename"], made["field"]) == ("ValidationError", "apiToken"), made
    assert "HTTP 500" in made["message"]
    received = tenant_server.requests()
    assert received and all(r.headers.get("webhook-signature", "").startswith("v1,") for r in received)
    for value in (secret, secret.removeprefix("whsec_"), *(c.client_secret for c in CLIENTS.values())):
        assert not any(r.mentions(value) for r in received)
