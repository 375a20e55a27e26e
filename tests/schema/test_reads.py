"""A request's reads: one session for a query over HTTP, short sessions elsewhere, never the whole pool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from conduit import ids
from conduit.app import create_app
from conduit.db.engine import make_engine, make_sessionmaker
from conduit.runtime import Runtime
from conduit.schema.reads import SLOTS, Reads, Slots
from tests.conftest import Tenant, make_settings
from tests.factories import make_issue

PAGE = """query($p: ID!) { project(id: $p) { name issues(first: 20) {
  edges { node { id title latestEvent { id message } } } } } }"""


@dataclass
class Seen:
    checkouts: int = 0
    statements: list[str] = field(default_factory=list)


@contextmanager
def watching(engine: AsyncEngine) -> Iterator[Seen]:
    seen = Seen()

    def checkout(*_: object) -> None:
        seen.checkouts += 1

    def statement(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        seen.statements.append(sql.split()[0].upper())

    sync = engine.sync_engine
    event.listen(sync, "checkout", checkout)
    event.listen(sync, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(sync, "checkout", checkout)
        event.remove(sync, "before_cursor_execute", statement)


@dataclass
class Own:
    """A runtime and client of this test's own: the session's shared runtime has other users (a job
    runner, the ingest writer's connection) whose reads and checkouts would be counted too."""

    runtime: Runtime
    client: httpx.AsyncClient


@pytest.fixture
async def own(database_url: str, tmp_path: Path) -> AsyncIterator[Own]:
    runtime = Runtime.create(make_settings(database_url, tmp_path))
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Own(runtime, client)
    finally:
        await runtime.close()


async def _page(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    body = {"query": PAGE, "variables": {"p": ids.encode("Project", tenant.project_id)}}
    return await client.post("/graphql", json=body, headers=tenant.auth)


async def test_a_query_over_http_reads_through_one_session(own: Own, tenant: Tenant) -> None:
    runtime, client = own.runtime, own.client
    async with runtime.sessions() as session:
        for n in range(12):
            await make_issue(
                session, tenant.organization_id, tenant.project_id, title=f"E{n}: boom", events=2
            )
        await session.commit()
    assert (await _page(client, tenant)).status_code == 200  # the token is now cached
    with watching(runtime.engine) as seen:
        r = await _page(client, tenant)
    assert "errors" not in r.json(), r.text[:500]
    edges = r.json()["data"]["project"]["issues"]["edges"]
    assert len(edges) == 12 and all(e["node"]["latestEvent"]["message"].endswith("#1") for e in edges)
    # The project, the page, the latest events of the whole page: three reads, one connection.
    assert seen.statements == ["SELECT", "SELECT", "SELECT"]
    assert seen.checkouts == 1
    assert runtime.engine.pool.checkedout() == 0  # given back with the response


async def test_a_mutation_reads_through_short_sessions_and_holds_nothing_after(
    own: Own, tenant: Tenant
) -> None:
    runtime, client = own.runtime, own.client
    async with runtime.sessions() as session:
        issue = await make_issue(session, tenant.organization_id, tenant.project_id)
        await session.commit()
    mutation = """mutation($id: ID!) { updateIssue(input: {id: $id, status: RESOLVED}) {
      __typename ... on UpdateIssuePayload { issue { status project { name } latestEvent { id } } } } }"""
    with watching(runtime.engine) as seen:
        r = await client.post(
            "/graphql",
            json={"query": mutation, "variables": {"id": ids.encode("Issue", issue.id)}},
            headers=tenant.auth,
        )
    payload = r.json()["data"]["updateIssue"]
    assert payload["issue"]["status"] == "RESOLVED" and payload["issue"]["latestEvent"]["id"]
    assert seen.checkouts >= 2  # the mutation's own session, then the payload's reads
    assert runtime.engine.pool.checkedout() == 0


async def test_a_failed_read_does_not_spoil_the_reads_after_it(own: Own) -> None:
    runtime = own.runtime
    reads = Reads(runtime.sessions, Slots(runtime.engine))
    reads.share()
    try:
        with pytest.raises(DBAPIError):
            async with reads.session() as session:
                await session.execute(text("SELECT * FROM no_such_table"))
        async with reads.session() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await reads.close()
    assert runtime.engine.pool.checkedout() == 0


async def test_shared_sessions_take_at_most_half_a_pool(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'slots.db'}", pool_size=4, max_overflow=2)
    try:
        slots = Slots(engine)
        assert [slots.take() for _ in range(4)] == [True, True, True, False]
        slots.give_back()
        assert slots.take()
        # A request without a slot reads as before: a short session per read, nothing held.
        reads = Reads(make_sessionmaker(engine), slots)
        reads.share()
        async with reads.session() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        assert engine.pool.checkedout() == 0
        await reads.close()
    finally:
        await engine.dispose()


def test_a_pool_that_never_blocks_lets_every_request_share() -> None:
    engine = make_engine("sqlite+aiosqlite://")  # one static connection
    slots = Slots(engine)
    assert all(slots.take() for _ in range(100))


async def test_an_operation_stopped_by_the_budget_gives_its_session_back(
    database_url: str, tmp_path: Path, tenant: Tenant
) -> None:
    # A budget so short that the operation is stopped at its first wait, wherever that is.
    runtime = Runtime.create(make_settings(database_url, tmp_path, graphql_timeout=0.0005))
    try:
        transport = httpx.ASGITransport(app=create_app(runtime=runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            codes = [
                (await _page(client, tenant)).json().get("errors", [{}])[0].get("extensions", {}).get("code")
                for _ in range(10)
            ]
        assert "TIMEOUT" in codes
        assert runtime.engine.pool.checkedout() == 0
        slots = runtime.get(SLOTS)
        held = [slots.take() for _ in range(7)]  # half of SQLite's 15 or PostgreSQL's 30: all free again
        assert all(held)
        for _ in held:
            slots.give_back()
    finally:
        await runtime.close()
