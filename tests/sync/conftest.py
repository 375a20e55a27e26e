"""Conduit served over real HTTP with its job runner, wired to GitHub and Jira sandboxes that send
their webhooks to it; helpers to install through OAuth and to drive both sides."""

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

from conduit.app import create_app
from conduit.connectors import Connectors
from conduit.connectors.oauth import ClientCredentials
from conduit.connectors.service import EXTRAS_KEY
from conduit.db.models import Installation, InstallationStatus, Issue, OutboxRow
from conduit.demo import sandbox_settings
from conduit.ids import decode_as, encode
from conduit.jobs.config import JobsSettings
from conduit.jobs.service import start_jobs
from conduit.runtime import Runtime
from conduit.sandbox import GitHubSandbox, JiraSandbox, SandboxServer
from conduit.settings import Settings
from tests.conftest import Tenant
from tests.factories import make_issue

CLIENTS = {
    "github": ClientCredentials("sandbox-github-app", "sandbox-github-app-secret"),
    "jira": ClientCredentials("sandbox-jira-client", "sandbox-jira-client-secret-0123456789abcdef"),
}
# The operator's cloud clients: configured as a real deployment has them, and never to be sent anywhere
# but github.com and Atlassian Cloud.
CLOUD_CLIENTS = {
    "github": ClientCredentials("operator-github-cloud", "operator-github-cloud-secret-never-sent"),
    "jira": ClientCredentials("operator-jira-cloud", "operator-jira-cloud-secret-never-sent"),
}
SCOPES = {"github": "acme/widgets", "jira": "OPS"}
CLIENT_TIMEOUT = 2.0


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
    """One sandbox tracker."""

    key: str
    server: SandboxServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def scope(self) -> str:
        return SCOPES[self.key]

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=f"{self.url}/_sandbox", timeout=10) as c:
            reply = await c.request(method, path, **kwargs)
        reply.raise_for_status()
        return reply.json() if reply.content else None

    async def fault(self, **fault: Any) -> None:
        await self.control("POST", "/faults", json=fault)

    async def clear_faults(self) -> None:
        await self.control("DELETE", "/faults")

    async def calls(self) -> int:
        """How many API calls the tracker has answered since the log was last cleared."""
        data = await self.control("GET", "/calls", params={"limit": 0})
        return int(data["total"])

    async def clear_calls(self) -> None:
        await self.control("DELETE", "/calls")

    async def act(self, key: str, action: str) -> list[int]:
        """Close or reopen the ticket as a person in the tracker; returns the deliveries it caused."""
        if self.key == "github":
            repo, number = key.split("#")
            data = await self.control("POST", f"/repos/{repo}/issues/{number}/{action}", json={})
        else:
            to = "Done" if action == "close" else "To Do"
            data = await self.control("POST", f"/issues/{key}/transition", json={"to": to})
        return list(data["deliveries"])

    async def delete(self, key: str) -> None:
        if self.key == "github":
            repo, number = key.split("#")
            await self.control("DELETE", f"/repos/{repo}/issues/{number}")
        else:
            await self.control("DELETE", f"/issues/{key}")

    async def delivery(self, delivery_id: int) -> dict[str, Any]:
        data: dict[str, Any] = await self.control("GET", f"/deliveries/{delivery_id}", params={"wait": 10})
        return data


@pytest.fixture(scope="session")
def sides() -> Iterator[dict[str, Side]]:
    github = SandboxServer(GitHubSandbox(repos=("acme/widgets",))).start()
    jira_sandbox = JiraSandbox(projects=("OPS",))
    jira_sandbox.outbox.retries = 0
    jira = SandboxServer(jira_sandbox).start()
    try:
        yield {"github": Side("github", github), "jira": Side("jira", jira)}
    finally:
        github.stop()
        jira.stop()


def operator_settings(settings: Settings, sides: dict[str, Side], **overrides: Any) -> Settings:
    """As an operator sets them: the sandboxes' clients, each for exactly its URL, with loopback tracker
    URLs allowed; beside them, the cloud clients."""
    cloud = {
        f"{key}_client_{part}": getattr(client, f"client_{part}")
        for key, client in CLOUD_CLIENTS.items()
        for part in ("id", "secret")
    }
    sandboxes = sandbox_settings(settings, {key: side.url for key, side in sides.items()})
    return sandboxes.model_copy(update={**cloud, **overrides})


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


@dataclass
class Served:
    runtime: Runtime
    url: str


# Per module, not per session: its job runner shares the test database with other suites' runners, and
# must not outlive the tests that configured it (it would claim their jobs with its own settings).
@pytest.fixture(scope="module")
async def conduit_server(runtime: Runtime, sides: dict[str, Side]) -> AsyncIterator[Served]:
    """Conduit on loopback in this event loop, with its public URL set to where it listens (so the
    webhook URLs it registers reach it), running its jobs embedded."""
    holder: dict[str, Any] = {}

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await holder["app"](scope, receive, send)

    server = SandboxServer(asgi)
    rt = Runtime.create(operator_settings(runtime.settings, sides, public_url=server.url))
    connectors = Connectors(rt, timeout=CLIENT_TIMEOUT)
    rt.extras[EXTRAS_KEY] = connectors
    jobs = await start_jobs(
        rt,
        JobsSettings(
            poll_interval_seconds=0.2,
            sweep_interval_seconds=0.5,
            handover_lease_seconds=5,
            lease_grace_seconds=2,
        ),
    )
    holder["app"] = create_app(runtime=rt)
    await server.astart()
    try:
        yield Served(rt, server.url)
    finally:
        await server.astop()
        await jobs.stop()
        await connectors.aclose()
        await rt.close()


@pytest.fixture
def conduit(conduit_server: Served, tenant: Tenant) -> Conduit:
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


async def install(conduit: Conduit, side: Side) -> Installed:
    """The whole OAuth dance over HTTP: mutation, the browser at the tracker, the callback, the job."""
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
