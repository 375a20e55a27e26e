"""Tracker sync latency and the cost of reading links, against the sandbox trackers with 100 ms latency.

Conduit serves over real HTTP on loopback with its embedded job runner; every registered tracker's
sandbox answers each API call after 100 ms and sends its webhooks to it. Measured for each tracker:

- sync out: from the `updateIssue` mutation (resolve / reopen) to the ticket's new state stored back
  from the tracker's answer (event → publish job → push job → tracker call(s) → cache);
- sync in: from a person closing / reopening the ticket in the tracker to the issue's new status
  (webhook → 202 → apply job);
- tracker calls to serve a 50-issue page with links: cold (every cached ticket stale, so one batched
  revalidation follows the read) and warm (fresh cache).

    .venv/bin/python bench/sync.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from common import pct, until
from sqlalchemy import func, select, update

from conduit.app import create_app
from conduit.bootstrap import bootstrap
from conduit.connectors import Connectors, TicketDraft
from conduit.connectors.registry import provider
from conduit.connectors.sandbox import SandboxServer, every_sandbox, operator_settings
from conduit.connectors.service import CONNECTORS
from conduit.db.base import utcnow
from conduit.db.migrate import upgrade_async
from conduit.db.models import (
    ExternalIssue,
    Installation,
    InstallationStatus,
    Issue,
    IssueStatus,
    OutboxRow,
    OutboxState,
    Project,
)
from conduit.ids import decode_as, encode
from conduit.jobs.config import JobsSettings
from conduit.jobs.service import start_jobs
from conduit.runtime import Runtime
from conduit.settings import Settings
from conduit.sync import webhooks
from conduit.sync.links import link_record
from conduit.sync.reconcile import REVALIDATE_KIND

LATENCY_MS = 100


class Bench:
    def __init__(self, runtime: Runtime, url: str, token: str, org_id: int, project_id: int) -> None:
        self.runtime, self.url, self.token, self.org_id, self.project_id = (
            runtime,
            url,
            token,
            org_id,
            project_id,
        )

    async def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as c:
            reply = await c.post(
                f"{self.url}/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        body = reply.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return dict(body["data"])

    async def idle(self) -> bool:
        async with self.runtime.sessions() as session:
            n = await session.scalar(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.state.in_((OutboxState.PENDING, OutboxState.QUEUED, OutboxState.RUNNING)))
                .where(OutboxRow.run_after <= utcnow())
            )
        return n == 0

    async def install(self, key: str, base: str) -> int:
        # An in-house tracker ("app") connects like a token tracker, with its service's signing secret.
        if provider(key).auth_mode in ("api_token", "app"):
            token = (await control(base, "POST", "/api-tokens", json={}))["token"]
            made = (
                await self.graphql(
                    "mutation($p: String!, $t: String!, $b: String) { connectTracker(provider: $p, "
                    "apiToken: $t, baseUrl: $b) { ... on ConnectTrackerPayload { installation { id } } "
                    "... on UserError { message } } }",
                    p=key,
                    t=token,
                    b=base,
                )
            )["connectTracker"]
            if "installation" not in made:
                raise RuntimeError(f"{key} did not connect: {made}")
            return decode_as(made["installation"]["id"], "Installation")
        started = (
            await self.graphql(
                "mutation($p: String!, $b: String) { startInstallation(provider: $p, baseUrl: $b) {"
                " ... on StartInstallationPayload { authorizeUrl installation { id } } } }",
                p=key,
                b=base,
            )
        )["startInstallation"]
        async with httpx.AsyncClient(timeout=30) as browser:
            consent = await browser.get(started["authorizeUrl"])
            location = urlsplit(consent.headers["location"])
            await browser.get(f"{self.url}{location.path}?{location.query}")
        pk = decode_as(started["installation"]["id"], "Installation")

        async def active() -> bool:
            async with self.runtime.sessions() as session:
                row = await session.get(Installation, pk, populate_existing=True)
                return row is not None and row.status is InstallationStatus.ACTIVE

        await until(active)
        return pk

    async def linked_issue(self, installation_id: int, record: Any) -> tuple[int, int]:
        async with self.runtime.sessions() as session:
            issue = Issue(
                organization_id=self.org_id,
                project_id=self.project_id,
                fingerprint=hashlib.sha256(f"{installation_id}-{record.key}".encode()).hexdigest(),
                title="Bench",
                first_seen=utcnow(),
                last_seen=utcnow(),
            )
            session.add(issue)
            await session.flush()
            installation = await session.get(Installation, installation_id)
            assert installation is not None
            _, external = await link_record(session, installation, issue, record)
            await session.commit()
            return issue.id, external.id

    async def category(self, external_id: int) -> str:
        async with self.runtime.sessions() as session:
            row = await session.get(ExternalIssue, external_id, populate_existing=True)
            assert row is not None
            return row.status_category

    def category_is(self, external_id: int, wanted: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await self.category(external_id) == wanted

        return check

    def status_is(self, issue_id: int, wanted: IssueStatus) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await self.status(issue_id) == wanted

        return check

    async def status(self, issue_id: int) -> IssueStatus:
        async with self.runtime.sessions() as session:
            row = await session.get(Issue, issue_id, populate_existing=True)
            assert row is not None
            return row.status


async def settled(bench: Bench, base: str) -> None:
    """Nothing left that would call the tracker: its webhooks delivered (the tickets' creation sends
    some, and applying them may read the ticket), every due job run, and no revalidation waiting (it
    waits a moment for the rest of a page's batches before it is due)."""

    async def delivered() -> bool:
        pending = await control(base, "GET", "/deliveries", params={"status": "pending"})
        return not pending["deliveries"]

    async def no_revalidation() -> bool:
        async with bench.runtime.sessions() as session:
            n = await session.scalar(
                select(func.count())
                .select_from(OutboxRow)
                .where(
                    OutboxRow.kind == REVALIDATE_KIND,
                    OutboxRow.state.in_((OutboxState.PENDING, OutboxState.QUEUED, OutboxState.RUNNING)),
                )
            )
        return n == 0

    await until(delivered)
    await until(bench.idle)
    await until(no_revalidation)
    await until(bench.idle)


async def control(base: str, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(base_url=f"{base}/_sandbox", timeout=30) as c:
        reply = await c.request(method, path, **kwargs)
    reply.raise_for_status()
    return reply.json() if reply.content else None


async def person(base: str, key: str, close: bool) -> None:
    """Close or reopen the ticket as a person in the tracker (the controls every sandbox shares)."""
    await control(base, "POST", f"/tickets/{'close' if close else 'reopen'}", json={"key": key})


SET = "mutation($id: ID!, $s: IssueStatus!) { updateIssue(input: {id: $id, status: $s}) { __typename } }"
PAGE = """query($id: ID!) { project(id: $id) { issues(first: 50) { nodes {
  links { externalIssue { key status } } } } } }"""


async def run(rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade_async(url)
    sandboxes = every_sandbox()
    for sandbox in sandboxes:
        sandbox.outbox.retries = 0
    sides = {sandbox.name: SandboxServer(sandbox).start() for sandbox in sandboxes}
    scopes = {sandbox.name: sandbox.scopes()[0] for sandbox in sandboxes}
    holder: dict[str, Any] = {}

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await holder["app"](scope, receive, send)

    server = SandboxServer(asgi)
    settings = Settings(
        env="test", database_url=url, data_dir=tmp, secret_key="bench-" + "x" * 40, public_url=server.url
    )
    # The sandboxes' clients, each for exactly its URL, with loopback trackers allowed.
    runtime = Runtime.create(operator_settings(settings, sandboxes))
    connectors = Connectors(runtime)
    runtime.provide(CONNECTORS, connectors)
    jobs = await start_jobs(runtime, JobsSettings(poll_interval_seconds=0.2))
    holder["app"] = create_app(runtime=runtime)
    await server.astart()
    try:
        async with runtime.sessions() as session:
            boot = await bootstrap(session, "bench", "backend", server.url)
        bench = Bench(runtime, server.url, boot.token, boot.organization_id, boot.project_id)
        print(
            f"tracker latency {LATENCY_MS} ms per call; {rounds} rounds per direction after one not counted\n"
        )
        print(f"{'tracker':8} {'direction':9} {'p50 ms':>8} {'p95 ms':>8}")
        for key, side in sides.items():
            installation_id = await bench.install(key, side.url)
            await webhooks.ensure(runtime, installation_id, scopes[key])
            connector = await connectors.connector(installation_id)
            record = await connector.create_ticket(scopes[key], TicketDraft("Bench", "sync", "http://x"))
            issue_id, external_id = await bench.linked_issue(installation_id, record)
            await control(side.url, "POST", "/faults", json={"kind": "latency", "ms": LATENCY_MS})
            out: list[float] = []
            inbound: list[float] = []
            # The first round each way is not counted: it fills what a running Conduit keeps (a
            # tracker's workflow, learned with the first change; clients and tokens).
            for round_number in range(rounds + 1):
                counted = round_number > 0
                for resolved in (True, False):
                    wanted = "done" if resolved else "open"
                    started = time.perf_counter()
                    await bench.graphql(
                        SET, id=encode("Issue", issue_id), s="RESOLVED" if resolved else "UNRESOLVED"
                    )
                    await until(bench.category_is(external_id, wanted))
                    if counted:
                        out.append((time.perf_counter() - started) * 1000)
                    await until(bench.idle)
                for close in (True, False):
                    wanted_status = IssueStatus.RESOLVED if close else IssueStatus.UNRESOLVED
                    started = time.perf_counter()
                    await person(side.url, record.key, close)
                    await until(bench.status_is(issue_id, wanted_status))
                    if counted:
                        inbound.append((time.perf_counter() - started) * 1000)
                    await until(bench.idle)
            print(f"{key:8} {'out':9} {pct(out, 0.5):8.0f} {pct(out, 0.95):8.0f}")
            print(f"{key:8} {'in':9} {pct(inbound, 0.5):8.0f} {pct(inbound, 0.95):8.0f}")
            await control(side.url, "DELETE", "/faults")
        print()
        for key, side in sides.items():
            await page_calls(bench, connectors, key, side.url, scopes[key])
    finally:
        await server.astop()
        await jobs.stop()
        await connectors.aclose()
        await runtime.close()
        for side in sides.values():
            side.stop()


async def page_calls(bench: Bench, connectors: Connectors, key: str, base: str, scope: str) -> None:
    async with bench.runtime.sessions() as session:
        project = Project(organization_id=bench.org_id, name=f"page-{key}", slug=f"page-{key}")
        session.add(project)
        await session.commit()
        project_id = project.id
    installation_id = (
        await bench.graphql("{ organization { installations(first: 10) { nodes { id provider { key } } } } }")
    )["organization"]["installations"]["nodes"]
    pk = next(decode_as(n["id"], "Installation") for n in installation_id if n["provider"]["key"] == key)
    connector = await connectors.connector(pk)
    records = await asyncio.gather(
        *(connector.create_ticket(scope, TicketDraft("Page", "page", "http://x")) for _ in range(50))
    )
    bench.project_id = project_id
    for record in records:
        await bench.linked_issue(pk, record)
    async with bench.runtime.sessions() as session:
        await session.execute(
            update(ExternalIssue)
            .where(ExternalIssue.installation_id == pk)
            .values(last_synced_at=utcnow() - timedelta(hours=1))
        )
        await session.commit()
    await settled(bench, base)
    figures = []
    for _ in ("cold", "warm"):
        await control(base, "DELETE", "/calls")
        await bench.graphql(PAGE, id=encode("Project", project_id))
        await settled(bench, base)
        figures.append((await control(base, "GET", "/calls", params={"limit": 0}))["total"])
    print(f"{key:8} 50-issue page with links: tracker calls cold {figures[0]}, warm {figures[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
