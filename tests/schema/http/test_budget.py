"""The time budget of an operation, and an event loop that keeps serving while a large answer is built."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import OperationDefinitionNode, parse
from starlette.applications import Starlette

from conduit import ids
from conduit.resolvers import build_schema
from conduit.runtime import Runtime
from conduit.schema.cost import operation_cost
from tests.conftest import LiveServer, Tenant
from tests.factories import make_issue

from .conftest import AUTH, tiny_app

GRAPHQL_RESPONSE = {"Accept": "application/graphql-response+json"}
# A million objects, each built by a synchronous resolver: nothing in it ever awaits.
SYNC_HEAVY = "{ thing { many(n: 1000) { many(n: 1000) { id name } } } }"


@pytest.fixture(scope="module")
def budgeted() -> Starlette:
    # No cost limit to speak of: these operations are meant to run until the time budget stops them.
    return tiny_app(graphql_timeout=1.0, graphql_max_cost=10**12)


@pytest.fixture
async def budgeted_client(budgeted: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=budgeted)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def post(
    client: httpx.AsyncClient, query: str, accept: str = GRAPHQL_RESPONSE["Accept"]
) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers={**AUTH, "Accept": accept})


async def test_an_operation_past_its_budget_is_stopped_with_a_clear_error(
    budgeted_client: httpx.AsyncClient,
) -> None:
    r = await post(budgeted_client, "{ hello stall }")
    assert r.status_code == 503
    body = r.json()
    # Nothing is complete, so no data at all.
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "TIMEOUT", "timeout": 1.0}
    assert "did not finish within 1 seconds" in error["message"]
    legacy = await post(budgeted_client, "{ stall }", accept="application/json")
    assert legacy.status_code == 200
    assert legacy.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"


# Cancelling an operation drops graphql-core's own coroutines that had not started yet.
@pytest.mark.filterwarnings("ignore:coroutine 'Executor.*was never awaited:RuntimeWarning")
async def test_synchronous_work_yields_so_others_are_served_and_the_budget_can_stop_it(
    budgeted_client: httpx.AsyncClient,
) -> None:
    # Without yielding, the heavy operation would hold the loop until all million objects were built:
    # `hello` would wait for it, and the budget could not cancel it.
    heavy = asyncio.create_task(post(budgeted_client, SYNC_HEAVY))
    light = await post(budgeted_client, "{ hello }")
    assert light.json() == {"data": {"hello": "hello world"}}
    assert not heavy.done()
    stopped = await heavy
    assert stopped.status_code == 503
    assert stopped.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"


async def test_healthz_answers_while_the_heaviest_allowed_query_runs(
    runtime: Runtime, tenant: Tenant, record_property: pytest.RecordProperty
) -> None:
    async with runtime.sessions() as session:
        for n in range(100):
            await make_issue(session, tenant.organization_id, tenant.project_id, title=f"E{n}: boom")
        await session.commit()
    # Four aliases of two nested pages: as much as the cost limit lets through.
    nested = "project(id: $p) { issues(first: %d) { nodes { id title project { issues(first: 100) { nodes { id title } } } } } }"
    query = "query($p: ID!) { " + " ".join(f"a{i}: {nested % 80}" for i in range(4)) + " }"
    limit = runtime.settings.graphql_max_cost
    assert limit * 0.9 < _cost(query) <= limit
    assert _cost(query.replace("first: 80", "first: 100")) > limit

    with LiveServer(runtime.settings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            assert (await client.get("/healthz")).status_code == 200  # a warm connection pool
            body = {"query": query, "variables": {"p": ids.encode("Project", tenant.project_id)}}
            big = asyncio.create_task(client.post("/graphql", json=body, headers=tenant.auth))
            latencies: list[float] = []
            while not big.done():
                started = time.perf_counter()
                probe = await client.get("/healthz")
                latencies.append(time.perf_counter() - started)
                assert probe.status_code == 200
            answer = await big
    assert answer.status_code == 200, answer.text[:500]
    data = answer.json()["data"]
    assert len(data["a0"]["issues"]["nodes"]) == 80
    assert len(data["a3"]["issues"]["nodes"][0]["project"]["issues"]["nodes"]) == 100
    # Probes were answered while the query ran, not after it; how fast is reported, not asserted.
    assert latencies
    record_property("healthz_probes_during_query", len(latencies))
    record_property("healthz_max_latency_ms", round(max(latencies) * 1000, 1))
    print(f"healthz during the heaviest query: {len(latencies)} probes, max {max(latencies) * 1000:.1f} ms")


def _cost(query: str) -> int:
    document = parse(query)
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return operation_cost(build_schema()._schema, document, operation, {}, 10**12).value
