"""Every registered tracker's sandbox on loopback, and a way to install each connector through OAuth
against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from conduit.connectors import Connector, Connectors
from conduit.connectors.catalog import Provider
from conduit.connectors.oauth import ClientCredentials
from conduit.connectors.registry import provider
from conduit.connectors.sandbox import Sandbox, SandboxServer, every_sandbox, operator_settings
from conduit.db.models import Installation, InstallationStatus, Interaction
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.connectors.drivers import KEYS, Driver, driver
from tests.connectors.sandbox.serving import Receiver, receiving

REDIRECT_URI = "http://testserver/oauth/callback"
# Short enough that a `timeout` fault ends a test quickly, long enough for a loaded CI machine.
CLIENT_TIMEOUT = 2.0


@dataclass
class Tracker:
    """One sandbox tracker and what the contract tests need to know to drive it."""

    key: str
    server: SandboxServer
    driver: Driver

    @property
    def sandbox(self) -> Sandbox:
        assert self.server.sandbox is not None
        return self.server.sandbox

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def client(self) -> ClientCredentials:
        return ClientCredentials(*self.sandbox.client)

    @property
    def spec(self) -> Provider:
        return provider(self.key)

    @property
    def scope(self) -> str:
        """A repository / a project key tickets can be created in."""
        return self.sandbox.scopes()[0]

    @property
    def assignee_email(self) -> str:
        return self.driver.assignee_email

    def control(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"{self.url}/_sandbox", timeout=10)

    async def calls(self) -> dict[str, Any]:
        async with self.control() as c:
            return (await c.get("/calls", params={"limit": 0})).json()

    async def clear_calls(self) -> None:
        async with self.control() as c:
            await c.delete("/calls")

    async def add_fault(self, **fault: Any) -> None:
        async with self.control() as c:
            (await c.post("/faults", json=fault)).raise_for_status()

    async def clear_faults(self) -> None:
        async with self.control() as c:
            await c.delete("/faults")

    async def revoke(self, token: str) -> None:
        async with self.control() as c:
            (await c.post("/oauth/revoke", json={"token": token})).raise_for_status()

    async def api_token(self) -> str:
        """A token the tracker issues to its default user, as its settings page would."""
        async with self.control() as c:
            reply = await c.post("/api-tokens", json={})
        reply.raise_for_status()
        return str(reply.json()["token"])

    async def expire(self, token: str) -> None:
        async with self.control() as c:
            (await c.post("/oauth/expire", json={"token": token})).raise_for_status()

    async def person(self, action: str, key: str, **data: Any) -> list[int]:
        """Act on the ticket as a person in the tracker (close, reopen, comment, assign, delete);
        returns the webhook deliveries it caused."""
        async with self.control() as c:
            reply = await c.post(f"/tickets/{action}", json={"key": key, **data})
        reply.raise_for_status()
        return list(reply.json()["deliveries"])

    async def close_as_person(self, key: str) -> list[int]:
        return await self.person("close", key)

    async def delivery(self, delivery_id: int) -> dict[str, Any]:
        async with self.control() as c:
            return (await c.get(f"/deliveries/{delivery_id}", params={"wait": 5})).json()


@pytest.fixture(scope="session")
def trackers() -> Iterator[dict[str, Tracker]]:
    """Every registered tracker's sandbox, served on loopback for the whole session."""
    servers: list[SandboxServer] = []
    try:
        for sandbox in every_sandbox():
            # Deliveries go nowhere in these tests; a tracker's own retries would only slow them down.
            sandbox.outbox.retries = 0
            servers.append(SandboxServer(sandbox).start())
        yield {
            s.sandbox.name: Tracker(s.sandbox.name, s, driver(s.sandbox.name)) for s in servers if s.sandbox
        }
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(params=KEYS)
def tracker(request: pytest.FixtureRequest, trackers: dict[str, Tracker]) -> Tracker:
    return trackers[request.param]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback, for the sandboxes' own tests."""
    with receiving() as rec:
        yield rec


def make_connectors(runtime: Runtime, *trackers: Tracker, timeout: float = CLIENT_TIMEOUT) -> Connectors:
    # As an operator sets them for the sandboxes: each one's client for exactly its URL, loopback allowed.
    settings = operator_settings(runtime.settings, [t.sandbox for t in trackers])
    return Connectors(runtime, settings=settings, timeout=timeout)


@pytest.fixture
async def connectors(runtime: Runtime, trackers: dict[str, Tracker]) -> AsyncIterator[Connectors]:
    service = make_connectors(runtime, *trackers.values())
    yield service
    await service.aclose()


@dataclass
class Installed:
    installation_id: int
    organization_id: int
    connector: Connector
    authorize_url: str


async def install(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant, *, scopes: str | None = None
) -> Installed:
    """The OAuth dance, as a browser and the callback would do it, then the code exchange; for a
    tracker that connects with an API token, a token it issued, checked and kept."""
    async with runtime.sessions() as session:
        row = Installation(
            organization_id=tenant.organization_id, provider=tracker.key, base_url=tracker.url, config={}
        )
        session.add(row)
        await session.commit()
        installation_id = row.id
    # An in-house tracker ("app") connects the same way, with the secret its service signs with.
    if tracker.spec.auth_mode in ("api_token", "app"):
        token = await tracker.api_token()
        await connectors.keep_token(installation_id, token, await connectors.check_token(row, token))
        return Installed(
            installation_id, tenant.organization_id, await connectors.connector(installation_id), ""
        )
    request = connectors.authorization_request(row, REDIRECT_URI)
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(request.url)
    assert consent.status_code == 302, consent.text
    query = parse_qs(urlsplit(consent.headers["location"]).query)
    assert query["state"] == [request.state]
    account = await connectors.complete_install(
        installation_id, query["code"][0], REDIRECT_URI, request.code_verifier
    )
    assert account is not None, await status_of(runtime, installation_id)
    return Installed(
        installation_id, tenant.organization_id, await connectors.connector(installation_id), request.url
    )


async def status_of(runtime: Runtime, installation_id: int) -> Installation:
    async with runtime.sessions() as session:
        row = await session.get(Installation, installation_id, populate_existing=True)
        assert row is not None
        return row


async def interactions(runtime: Runtime, installation_id: int) -> list[Interaction]:
    async with runtime.sessions() as session:
        stmt = (
            select(Interaction).where(Interaction.installation_id == installation_id).order_by(Interaction.id)
        )
        return list((await session.execute(stmt)).scalars())


__all__ = ["InstallationStatus", "Installed", "Tracker", "install", "interactions", "status_of"]
