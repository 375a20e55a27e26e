"""Conduit served over real HTTP with its job runner, wired to every registered tracker's sandbox,
which sends its webhooks to it; helpers to install through OAuth and to drive both sides."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from conduit.connectors.oauth import ClientCredentials
from conduit.connectors.registry import TRACKERS, provider
from conduit.connectors.sandbox import Sandbox, SandboxServer, every_sandbox
from conduit.connectors.sandbox import operator_settings as sandbox_operator_settings
from conduit.db.models import Installation, InstallationStatus, Issue, OutboxRow
from conduit.ids import decode_as, encode
from conduit.runtime import Runtime
from conduit.settings import Settings, TrackerClient
from tests.conftest import Tenant
from tests.connectors.drivers import KEYS, Driver, driver
from tests.factories import make_issue
from tests.live import LiveConduit, live_conduit

# Each sandbox's built-in OAuth client, as the operator registers it for the sandbox's URL.
CLIENTS = {t.key: ClientCredentials(*t.sandbox().client) for t in TRACKERS}
# The operator's cloud clients: configured as a real deployment has them, and never to be sent anywhere
# but the providers' clouds.
CLOUD_CLIENTS = {
    key: ClientCredentials(f"operator-{key}-cloud", f"operator-{key}-cloud-secret-never-sent") for key in KEYS
}


async def wait_for(condition: Callable[[], Awaitable[Any]], what: str, within: float = 20.0) -> Any:
    """Poll a real condition until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + within
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Side:
    """One sandbox tracker, driven through the controls every sandbox shares."""

    key: str
    server: SandboxServer
    driver: Driver

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def sandbox(self) -> Sandbox:
        assert self.server.sandbox is not None
        return self.server.sandbox

    @property
    def scope(self) -> str:
        return self.sandbox.scopes()[0]

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=f"{self.url}/_sandbox", timeout=10) as c:
            reply = await c.request(method, path, **kwargs)
        reply.raise_for_status()
        return reply.json() if reply.content else None

    async def fault(self, **fault: Any) -> None:
        await self.control("POST", "/faults", json=fault)

    async def api_token(self) -> str:
        """A token the tracker issues to its default user, as its settings page would."""
        return str((await self.control("POST", "/api-tokens", json={}))["token"])

    async def clear_faults(self) -> None:
        await self.control("DELETE", "/faults")

    async def calls(self) -> int:
        """How many API calls the tracker has answered since the log was last cleared."""
        data = await self.control("GET", "/calls", params={"limit": 0})
        return int(data["total"])

    async def clear_calls(self) -> None:
        await self.control("DELETE", "/calls")

    async def act(self, key: str, action: str, **data: Any) -> list[int]:
        """Act on the ticket as a person in the tracker (close, reopen, comment, assign, delete);
        returns the deliveries it caused."""
        reply = await self.control("POST", f"/tickets/{action}", json={"key": key, **data})
        return list(reply["deliveries"])

    async def delete(self, key: str) -> None:
        await self.act(key, "delete")

    async def person(self, email: str, *, email_shown: bool) -> str:
        """A user in the tracker; returns the id the tracker knows them by."""
        data = await self.control(
            "POST", "/people", json={"name": email.split("@")[0], "email": email, "email_shown": email_shown}
        )
        return str(data["account"])

    async def send(self, delivery_id: int, **options: Any) -> tuple[int, Any]:
        """Have the tracker sign a recorded delivery afresh and send it now (see the sandbox's
        `/webhooks/send`); returns the receiver's status and answer."""
        data = await self.control("POST", "/webhooks/send", json={"delivery": delivery_id, **options})
        return int(data["status"]), data["body"]

    async def delivery(self, delivery_id: int) -> dict[str, Any]:
        data: dict[str, Any] = await self.control("GET", f"/deliveries/{delivery_id}", params={"wait": 10})
        return data


@pytest.fixture(scope="session")
def sides() -> Iterator[dict[str, Side]]:
    """Every registered tracker's sandbox, served on loopback for the whole session."""
    servers: list[SandboxServer] = []
    try:
        for sandbox in every_sandbox():
            # A tracker's own retries of deliveries Conduit refused would only slow the tests down.
            sandbox.outbox.retries = 0
            servers.append(SandboxServer(sandbox).start())
        yield {s.sandbox.name: Side(s.sandbox.name, s, driver(s.sandbox.name)) for s in servers if s.sandbox}
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(params=KEYS)
def side(request: pytest.FixtureRequest, sides: dict[str, Side]) -> Side:
    """Each registered tracker in turn."""
    return sides[request.param]


def operator_settings(settings: Settings, sides: dict[str, Side], **overrides: Any) -> Settings:
    """As an operator sets them: the sandboxes' clients, each for exactly its URL, with loopback tracker
    URLs allowed; beside them, the cloud clients."""
    cloud = [
        TrackerClient(provider=key, client_id=client.client_id, client_secret=client.client_secret)
        for key, client in CLOUD_CLIENTS.items()
    ]
    sandboxes = sandbox_operator_settings(settings, [side.sandbox for side in sides.values()])
    return sandboxes.model_copy(update={"tracker_clients": [*cloud, *sandboxes.tracker_clients], **overrides})


@dataclass
class Conduit:
    runtime: Runtime
    url: str
    tenant: Tenant

    async def graphql(self, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token or self.tenant.token}"}
        async with httpx.AsyncClient(timeout=20) as c:
            reply = await c.post(
                f"{self.url}/graphql", json={"query": query, "variables": variables}, headers=headers
            )
        body: dict[str, Any] = reply.json()
        assert not body.get("errors"), body
        return dict(body["data"])

    async def issue(self, title: str = "ZeroDivisionError: division by zero") -> int:
        async with self.runtime.sessions() as session:
            issue = await make_issue(
                session, self.tenant.organization_id, self.tenant.project_id, title, events=2
            )
            await session.commit()
            return issue.id

    async def issue_status(self, issue_id: int) -> str:
        async with self.runtime.sessions() as session:
            row = await session.get(Issue, issue_id, populate_existing=True)
            assert row is not None
            return row.status.value

    async def installation(self, installation_id: int) -> Installation:
        async with self.runtime.sessions() as session:
            row = await session.get(Installation, installation_id, populate_existing=True)
            assert row is not None
            return row

    async def events(self, event_type: str, issue_id: int) -> list[dict[str, Any]]:
        async with self.runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(OutboxRow.payload)
                    .where(
                        OutboxRow.kind == "events.publish",
                        OutboxRow.organization_id == self.tenant.organization_id,
                    )
                    .order_by(OutboxRow.id)
                )
            ).scalars()
            return [
                p
                for p in rows
                if p.get("type") == event_type and (p.get("data") or {}).get("issue_id") == issue_id
            ]

    async def set_status(self, issue_id: int, status: str) -> None:
        data = await self.graphql(
            "mutation($id: ID!, $s: IssueStatus!) { updateIssue(input: {id: $id, status: $s}) { __typename } }",
            id=encode("Issue", issue_id),
            s=status,
        )
        assert data["updateIssue"]["__typename"] == "UpdateIssuePayload"


# Per module, not per session: its job runner shares the test database with other suites' runners, and
# must not outlive the tests that configured it (it would claim their jobs with its own settings).
@pytest.fixture(scope="module")
async def conduit_server(runtime: Runtime, sides: dict[str, Side]) -> AsyncIterator[LiveConduit]:
    """Conduit on loopback in this event loop, with every sandbox tracker's OAuth client configured."""
    async with live_conduit(operator_settings(runtime.settings, sides)) as served:
        yield served


@pytest.fixture
def conduit(conduit_server: LiveConduit, tenant: Tenant) -> Conduit:
    return Conduit(conduit_server.runtime, conduit_server.url, tenant)


START = """
mutation($p: String!, $b: String) {
  startInstallation(provider: $p, baseUrl: $b) {
    __typename
    ... on StartInstallationPayload { authorizeUrl webhookUrl webhookSecret installation { id status } }
    ... on UserError { message }
  }
}"""


@dataclass
class Installed:
    id: int
    gid: str
    webhook_secret: str
    side: Side


CONNECT = """
mutation($p: String!, $t: String!, $b: String) {
  connectTracker(provider: $p, apiToken: $t, baseUrl: $b) {
    __typename
    ... on ConnectTrackerPayload { webhookUrl webhookSecret installation { id status } }
    ... on UserError { message }
  }
}"""


async def install(conduit: Conduit, side: Side) -> Installed:
    """The whole OAuth dance over HTTP: mutation, the browser at the tracker, the callback, the job;
    for a tracker that connects with an API token, the token pasted into `connectTracker`."""
    # An in-house tracker ("app") connects the same way, with the secret its service signs with.
    if provider(side.key).auth_mode in ("api_token", "app"):
        token = await side.api_token()
        made = (await conduit.graphql(CONNECT, p=side.key, t=token, b=side.url))["connectTracker"]
        assert made["__typename"] == "ConnectTrackerPayload", made
        assert made["installation"]["status"] == "ACTIVE", made
        gid = made["installation"]["id"]
        return Installed(decode_as(gid, "Installation"), gid, made["webhookSecret"], side)
    started = (await conduit.graphql(START, p=side.key, b=side.url))["startInstallation"]
    assert started["__typename"] == "StartInstallationPayload", started
    async with httpx.AsyncClient(timeout=10) as browser:
        consent = await browser.get(started["authorizeUrl"])
        assert consent.status_code == 302, consent.text
        location = urlsplit(consent.headers["location"])
        callback = await browser.get(
            f"{conduit.url}{location.path}?{location.query}", headers={"Accept": "application/json"}
        )
    assert callback.status_code == 202, callback.text
    gid = started["installation"]["id"]
    pk = decode_as(gid, "Installation")

    async def active() -> bool:
        row = await conduit.installation(pk)
        assert row.status is not InstallationStatus.ERROR, row.status_reason
        return row.status is InstallationStatus.ACTIVE

    await wait_for(active, "the installation to become active")
    return Installed(pk, gid, started["webhookSecret"], side)
