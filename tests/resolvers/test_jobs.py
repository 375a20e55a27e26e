from __future__ import annotations

from conduit import ids
from conduit.db.models import OutboxRow, OutboxState
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.resolvers.conftest import Execute

JOBS = """query($state: JobState, $after: String) { jobs(state: $state, first: 2, after: $after) {
  edges { node { id kind state attempts lastError deadReason } } pageInfo { hasNextPage endCursor } } }"""
RETRY = """mutation($id: ID!) { retryJob(id: $id) { __typename ... on RetryJobPayload { job { state attempts } }
  ... on UserError { message } } }"""


async def _dead_job(runtime: Runtime, org_id: int, kind: str = "test.dead") -> int:
    async with runtime.sessions() as session:
        row = OutboxRow(
            organization_id=org_id,
            kind=kind,
            payload={"n": 1},
            state=OutboxState.DEAD,
            attempts=5,
            last_error="ConnectError: refused",
            dead_reason="out of tries",
        )
        session.add(row)
        await session.commit()
        return row.id


async def test_list_retry_and_stats(runtime: Runtime, gql: Execute, tenant: Tenant) -> None:
    dead = [await _dead_job(runtime, tenant.organization_id) for _ in range(3)]
    data = await gql(tenant.token, JOBS, {"state": "DEAD"})
    page = data["jobs"]
    assert [e["node"]["id"] for e in page["edges"]] == [
        ids.encode("Job", dead[2]),
        ids.encode("Job", dead[1]),
    ]
    assert page["edges"][0]["node"]["deadReason"] == "out of tries"
    assert page["pageInfo"]["hasNextPage"] is True
    data = await gql(tenant.token, JOBS, {"state": "DEAD", "after": page["pageInfo"]["endCursor"]})
    assert [e["node"]["id"] for e in data["jobs"]["edges"]] == [ids.encode("Job", dead[0])]

    data = await gql(tenant.token, RETRY, {"id": ids.encode("Job", dead[0])})
    assert data["retryJob"]["job"]["attempts"] == 0
    assert data["retryJob"]["job"]["state"] in {"PENDING", "QUEUED", "RUNNING", "DONE", "DEAD"}
    # A job that is no longer dead cannot be replayed twice.
    again = await gql(tenant.token, RETRY, {"id": ids.encode("Job", dead[1])})
    assert again["retryJob"]["__typename"] == "RetryJobPayload"

    stats = await gql(
        tenant.token, "{ jobStats { depth { state count } oldestPendingAgeSeconds kinds { kind dead } } }"
    )
    depth = {d["state"]: d["count"] for d in stats["jobStats"]["depth"]}
    assert sum(depth.values()) >= 3
    assert any(k["kind"] == "test.dead" for k in stats["jobStats"]["kinds"])


async def test_jobs_are_tenant_scoped(
    runtime: Runtime, gql: Execute, tenant: Tenant, tenant2: Tenant
) -> None:
    job = await _dead_job(runtime, tenant.organization_id)
    data = await gql(tenant2.token, RETRY, {"id": ids.encode("Job", job)})
    assert data["retryJob"] == {"__typename": "NotFoundError", "message": "no dead job with this id"}
    data = await gql(tenant2.token, JOBS, {"state": "DEAD"})
    assert data["jobs"]["edges"] == []


async def test_jobs_need_scope(gql: Execute, tenant: Tenant) -> None:
    made = await gql(
        tenant.token,
        'mutation { createApiToken(input: {name: "r", scopes: ["issue:read"]}) { ... on CreateApiTokenPayload { value } } }',
    )
    limited = made["createApiToken"]["value"]
    result = await gql(limited, JOBS, {}, ok=False)
    assert result.errors[0].extensions["code"] == "FORBIDDEN"
    data = await gql(limited, RETRY, {"id": ids.encode("Job", 1)})
    assert data["retryJob"]["__typename"] == "ForbiddenError"
