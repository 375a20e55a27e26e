"""One road out, guarded: a tenant's base URL cannot reach the operator's network, at start or at
connect time (DNS rebinding included), and what a tenant's server answers is never repeated raw."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from conduit import egress as ssrf
from conduit.connectors import Connectors
from conduit.connectors.errors import InvalidRequest, Unavailable
from conduit.connectors.http import MAX_REPLY_BYTES
from conduit.connectors.service import CONNECTORS
from conduit.db.base import utcnow
from conduit.db.models import Installation, InstallationStatus, InteractionOutcome
from conduit.runtime import Runtime
from conduit.sync import install
from conduit.sync.health import health
from tests.conftest import Tenant, free_port
from tests.connectors.conftest import interactions, status_of
from tests.connectors.tenant_server import LEAKY_BODY, TenantServer

TENANT_CLIENT = {"client_id": "tenant-app", "client_secret": "tenant-app-secret"}


@asynccontextmanager
async def conduit_with(
    runtime: Runtime, *, allow_private: bool, resolver: ssrf.Resolver | None = None
) -> AsyncIterator[Runtime]:
    """A runtime on the test database whose connector service has the given guard settings."""
    settings = runtime.settings.model_copy(update={"allow_private_tracker_urls": allow_private})
    rt = Runtime.create(settings)
    service = Connectors(rt, timeout=2.0, resolver=resolver)
    rt.provide(CONNECTORS, service)
    try:
        yield rt
    finally:
        await service.aclose()
        await rt.close()


async def start(rt: Runtime, tenant: Tenant, base_url: str, provider: str = "github") -> int:
    """startInstallation with the tenant's own OAuth client; the installation's id."""
    async with rt.sessions() as session:
        started = await install.start(
            rt, session, tenant.organization_id, provider, base_url, **TENANT_CLIENT
        )
        await session.commit()
        return started.installation.id


async def installations(rt: Runtime, tenant: Tenant) -> int:
    async with rt.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Installation)
            .where(Installation.organization_id == tenant.organization_id)
        )
        return int(count or 0)


@pytest.fixture
def tenant_server() -> Iterator[TenantServer]:
    with TenantServer() as server:
        yield server


REFUSED_AT_START = [
    ("http://169.254.169.254", "metadata"),
    ("http://[::ffff:169.254.169.254]/latest", "metadata"),
    ("http://10.0.0.1:8080", "private address"),
    ("http://[::1]:22", "loopback"),
    ("http://127.0.0.1:6379", "loopback"),
    ("http://2130706433:6379", "loopback"),
    ("http://localhost:6379", "loopback"),
    ("http://192.168.0.10", "private address"),
    ("http://[fe80::1]", "metadata or link-local"),
]


@pytest.mark.parametrize(("base_url", "reason"), REFUSED_AT_START)
async def test_base_urls_on_addresses_conduit_may_not_call_are_refused_at_start(
    runtime: Runtime, tenant: Tenant, base_url: str, reason: str
) -> None:
    async with conduit_with(runtime, allow_private=False) as rt:
        with pytest.raises(install.InstallError, match=reason) as caught:
            await start(rt, tenant, base_url)
        assert caught.value.field == "baseUrl"
        assert str(caught.value).startswith("baseUrl is refused:")
        if "metadata" not in reason:
            assert "CONDUIT_ALLOW_PRIVATE_TRACKER_URLS" in str(caught.value)
        assert await installations(rt, tenant) == 0


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254",
        "http://[fd00:ec2::254]",
        "http://2852039166/",
        "http://169.254.170.2",  # ECS task credentials
        "http://169.254.170.23",  # EKS Pod Identity
        "http://[fd00:ec2::23]",
        "http://[64:ff9b:1::a9fe:a9fe]",
    ],
)
async def test_metadata_addresses_stay_refused_when_private_addresses_are_allowed(
    runtime: Runtime, tenant: Tenant, base_url: str
) -> None:
    async with conduit_with(runtime, allow_private=True) as rt:
        with pytest.raises(install.InstallError, match="metadata"):
            await start(rt, tenant, base_url)
        assert await installations(rt, tenant) == 0


@pytest.mark.parametrize(
    ("base_url", "why"),
    [
        ("ftp://ghe.example.com", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("ghe.example.com", "http or https"),
        ("http://admin:hunter2@ghe.example.com", "credentials"),
        ("http://token@ghe.example.com", "credentials"),
        ("https://ghe.example.com/?next=http://10.0.0.1", "query"),
        ("https://ghe.example.com/#frag", "fragment"),
        ("https://ghe example.com", "spaces"),
        ("https://ghe.example.com\r\nX-Evil: 1", "control characters"),
        ("http:///nohost", "no host"),
        ("http://xn--localhost:9911", "not a valid URL"),
        ("http://xn--a/", "not a valid URL"),
        ("https://" + "a" * 600 + ".example.com", "longer than 500"),
    ],
)
def test_malformed_base_urls_say_what_is_wrong(base_url: str, why: str) -> None:
    with pytest.raises(install.InstallError, match=why) as caught:
        install.parse_base_url(base_url)
    assert caught.value.field == "baseUrl"


async def test_graphql_answers_a_refused_base_url_with_a_typed_error(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    query = """mutation($b: String) { startInstallation(provider: "github", baseUrl: $b) {
      __typename ... on ValidationError { message field } } }"""
    reply = await client.post(
        "/graphql",
        json={"query": query, "variables": {"b": "http://169.254.169.254/latest/meta-data/"}},
        headers={"Authorization": f"Bearer {tenant.token}"},
    )
    result = reply.json()["data"]["startInstallation"]
    assert result["__typename"] == "ValidationError" and result["field"] == "baseUrl"
    assert "169.254.169.254 is a cloud metadata or link-local address" in result["message"]


async def test_a_tracker_call_to_loopback_is_refused_at_connect(
    runtime: Runtime, tenant: Tenant, tenant_server: TenantServer
) -> None:
    """An installation whose base URL was let through once (the switch was on then) is still checked
    on every connection, with the switch as it is now."""
    async with conduit_with(runtime, allow_private=True) as rt:
        installation_id = await start(rt, tenant, tenant_server.url)
    async with conduit_with(runtime, allow_private=False) as rt:
        service = rt.get(CONNECTORS)
        assert isinstance(service, Connectors)
        assert await service.complete_install(installation_id, "code", "http://testserver/cb", None) is None
    assert tenant_server.requests() == []
    row = await status_of(runtime, installation_id)
    assert row.status is InstallationStatus.ERROR
    assert row.status_reason is not None
    assert "127.0.0.1 is a loopback address" in row.status_reason
    [call] = await interactions(runtime, installation_id)
    assert (call.operation, call.http_status, call.outcome) == (
        "oauth.exchange_code",
        None,
        InteractionOutcome.HALTED,
    )
    assert call.error is not None and call.error.startswith(
        "AddressRefused: Conduit may not connect there: 127.0.0.1 is a loopback address"
    )


class Rebinding:
    """Answers a public address first and loopback afterwards, as a rebinding attacker's DNS does."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, host: str, port: int) -> tuple[ssrf.IPAddress, ...]:
        self.calls += 1
        return (ipaddress.ip_address("93.184.215.14" if self.calls == 1 else "127.0.0.1"),)


async def test_a_name_rebound_to_loopback_after_the_start_check_is_refused_at_connect(
    runtime: Runtime, tenant: Tenant, tenant_server: TenantServer
) -> None:
    resolver = Rebinding()
    base_url = f"http://tracker.rebind.test:{tenant_server.port}"
    async with conduit_with(runtime, allow_private=False, resolver=resolver) as rt:
        installation_id = await start(rt, tenant, base_url)
        assert resolver.calls == 1  # the start-time check saw a public address
        service = rt.get(CONNECTORS)
        assert isinstance(service, Connectors)
        assert await service.complete_install(installation_id, "code", "http://testserver/cb", None) is None
    assert resolver.calls == 2
    assert tenant_server.requests() == []
    row = await status_of(runtime, installation_id)
    assert row.status is InstallationStatus.ERROR
    assert row.status_reason is not None and "(127.0.0.1) is a loopback address" in row.status_reason


@pytest.mark.parametrize(
    ("content_type", "body", "shown"),
    [
        ("text/plain", LEAKY_BODY, "HTTP 500"),
        ("text/html", f"<html><pre>{LEAKY_BODY}</pre></html>", "HTTP 500"),
        ("application/json", '{"trace": "' + LEAKY_BODY.replace("\n", " ") + '"}', "HTTP 500"),
        (
            "application/json",
            '{"error": "server_error", "error_description": "the\\nstore is down ' + "x" * 2000 + '"}',
            "HTTP 500: the store is down xxx",
        ),
    ],
)
async def test_an_upstream_error_body_is_not_reflected_to_the_tenant(
    runtime: Runtime,
    tenant: Tenant,
    tenant_server: TenantServer,
    content_type: str,
    body: str,
    shown: str,
) -> None:
    tenant_server.content_type, tenant_server.body = content_type, body
    async with conduit_with(runtime, allow_private=True) as rt:
        installation_id = await start(rt, tenant, tenant_server.url)
        service = rt.get(CONNECTORS)
        assert isinstance(service, Connectors)
        assert await service.complete_install(installation_id, "code", "http://testserver/cb", None) is None
    assert [r.path for r in tenant_server.requests()] == ["/login/oauth/access_token"]
    row = await status_of(runtime, installation_id)
    async with runtime.sessions() as session:
        seen = await health(session, tenant.organization_id, installation_id, timedelta(hours=1))
    for text in (row.status_reason, seen.last_error):
        assert text is not None and shown in text, text
        assert "redis_password" not in text and "hunter2" not in text and "masterauth" not in text
        assert "\n" not in text and len(text) < 400


async def test_transport_errors_say_what_happened_and_nothing_more(runtime: Runtime, tenant: Tenant) -> None:
    port = free_port()  # nothing listens there
    async with conduit_with(runtime, allow_private=True) as rt:
        installation_id = await start(rt, tenant, f"http://127.0.0.1:{port}")
        service = rt.get(CONNECTORS)
        assert isinstance(service, Connectors)
        assert await service.complete_install(installation_id, "code", "http://testserver/cb", None) is None
    [call] = await interactions(runtime, installation_id)
    assert call.error == f"Unavailable: could not connect to 127.0.0.1:{port}"


async def test_an_oversized_reply_is_not_read(
    runtime: Runtime, tenant: Tenant, tenant_server: TenantServer
) -> None:
    tenant_server.status, tenant_server.body = 200, "x" * (MAX_REPLY_BYTES + 1)
    async with conduit_with(runtime, allow_private=True) as rt:
        installation_id = await start(rt, tenant, tenant_server.url)
        service = rt.get(CONNECTORS)
        assert isinstance(service, Connectors)
        connector = await service.connector(installation_id)
        with pytest.raises(Unavailable, match="answered with more than 16 MB"):
            await connector.api.call("probe", "GET", "/anything")


async def test_redirects_are_not_followed(runtime: Runtime, tenant: Tenant) -> None:
    with TenantServer(status=200, body="{}") as elsewhere, TenantServer(status=307, body="") as tenant_server:
        tenant_server.headers = {"location": f"{elsewhere.url}/login/oauth/access_token"}
        async with conduit_with(runtime, allow_private=True) as rt:
            installation_id = await start(rt, tenant, tenant_server.url)
            service = rt.get(CONNECTORS)
            assert isinstance(service, Connectors)
            assert (
                await service.complete_install(installation_id, "code", "http://testserver/cb", None) is None
            )
        assert [r.path for r in tenant_server.requests()] == ["/login/oauth/access_token"]
        assert elsewhere.requests() == []


async def test_a_link_to_another_server_is_not_followed_with_the_token(
    runtime: Runtime, tenant: Tenant
) -> None:
    with (
        TenantServer(status=200, body="[]") as elsewhere,
        TenantServer(status=200, body="[]") as tenant_server,
    ):
        tenant_server.content_type = "application/json"
        tenant_server.headers = {"link": f'<{elsewhere.url}/repos/a/b/issues?page=2>; rel="next"'}
        async with conduit_with(runtime, allow_private=True) as rt:
            installation_id = await start(rt, tenant, tenant_server.url)
            service = rt.get(CONNECTORS)
            assert isinstance(service, Connectors)
            connector = await service.connector(installation_id)
            with pytest.raises(InvalidRequest, match="another server"):
                await connector.changed_since("acme/widgets", utcnow() - timedelta(days=1))
        assert [r.path for r in tenant_server.requests()] == ["/api/v3/repos/acme/widgets/issues"]
        assert elsewhere.requests() == []
