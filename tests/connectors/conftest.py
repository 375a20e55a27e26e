"""Sandbox trackers on loopback and a way to install each connector through OAuth against them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from conduit.connectors import Connector, Connectors
from conduit.connectors.oauth import ClientCredentials
from conduit.connectors.registry import CONNECTORS
from conduit.db.models import Installation, InstallationStatus, Interaction
from conduit.demo import sandbox_settings
from conduit.runtime import Runtime
from conduit.sandbox import GitHubSandbox, SandboxServer
from conduit.sandbox.jira import JiraSandbox
from tests.conftest import Tenant

REDIRECT_URI = "http://testserver/oauth/callback"
# Short enough that a `timeout` fault ends a test quickly, long enough for a loaded CI machine.
CLIENT_TIMEOUT = 2.0


@dataclass
class Tracker:
    """One sandbox tracker and what the contract tests need to know to drive it."""

    key: str
    server: SandboxServer
    client: ClientCredentials
    scope: str  # a repository / a project key
    assignee_email: str

    @property
    def url(self) -> str:
        return self.server.url

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

    async def expire(self, token: str) -> None:
        async with self.control() as c:
            (await c.post("/oauth/expire", json={"token": token})).raise_for_status()

    async def close_as_person(self, key: str) -> list[int]:
        """Close the ticket the way a person does in the tracker; returns the webhook deliveries."""
        async with self.control() as c:
            if self.key == "github":
                repo, number = key.split("#")
                reply = await c.post(f"/repos/{repo}/issues/{number}/close", json={})
            else:
                reply = await c.post(f"/issues/{key}/transition", json={"to": "Done"})
            reply.raise_for_status()
            return list(reply.json()["deliveries"])

    async def delivery(self, delivery_id: int) -> dict[str, Any]:
        async with self.control() as c:
            return (await c.get(f"/deliveries/{delivery_id}", params={"wait": 5})).json()


@pytest.fixture(scope="session")
def github_tracker() -> Iterator[Tracker]:
    with SandboxServer(GitHubSandbox(repos=("acme/widgets",))) as server:
        yield Tracker(
            "github",
            server,
            ClientCredentials("sandbox-github-app", "sandbox-github-app-secret"),
            "acme/widgets",
            "hubot@example.com",
        )


@pytest.fixture(scope="session")
def jira_tracker() -> Iterator[Tracker]:
    sandbox = JiraSandbox(projects=("OPS",))
    # Deliveries go nowhere in these tests; Jira's own retries would only slow them down.
    sandbox.outbox.retries = 0
    with SandboxServer(sandbox) as server:
        yield Tracker(
            "jira",
            server,
            ClientCredentials("sandbox-jira-client", "sandbox-jira-client-secret-0123456789abcdef"),
            "OPS",
            "bob@example.com",
        )


@pytest.fixture(params=sorted(CONNECTORS))
def tracker(request: pytest.FixtureRequest) -> Tracker:
    return request.getfixturevalue(f"{request.param}_tracker")


def make_connectors(runtime: Runtime, *trackers: Tracker, timeout: float = CLIENT_TIMEOUT) -> Connectors:
    # As an operator sets them for the sandboxes: each one's client for exactly its URL, loopback allowed.
    settings = sandbox_settings(runtime.settings, {t.key: t.url for t in trackers})
    return Connectors(runtime, settings=settings, timeout=timeout)


@pytest.fixture
async def connectors(
    runtime: Runtime, github_tracker: Tracker, jira_tracker: Tracker
) -> AsyncIterator[Connectors]:
    service = make_connectors(runtime, github_tracker, jira_tracker)
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
    """The OAuth dance, as a browser and the callback would do it, then the code exchange."""
    async with runtime.sessions() as session:
        row = Installation(
            organization_id=tenant.organization_id, provider=tracker.key, base_url=tracker.url, config={}
        )
        session.add(row)
        await session.commit()
        installation_id = row.id
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
