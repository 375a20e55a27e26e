"""Concurrent first events of one fingerprint create one issue; concurrent resends store one event."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import update

from conduit.db.models import Issue, IssueStatus
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.ingest.helpers import event_envelope, events_of, exception_event, issues_of, outbox_of, sentry_auth

CONCURRENT = 20


async def test_concurrent_first_events_create_one_issue(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    events = [exception_event("RaceError", f"attempt {i}") for i in range(CONCURRENT)]
    url = f"/api/{tenant.project_id}/envelope/"
    responses = await asyncio.gather(
        *(client.post(url, content=event_envelope(e), headers=sentry_auth(tenant.public_key)) for e in events)
    )
    assert [r.status_code for r in responses] == [200] * CONCURRENT
    [issue] = await issues_of(runtime, tenant.project_id)
    assert issue.times_seen == CONCURRENT
    assert len(await events_of(runtime, tenant.project_id)) == CONCURRENT
    kinds = [row.payload["type"] for row in await outbox_of(runtime, tenant.organization_id)]
    assert kinds.count("issue.created") == 1
    assert kinds.count("event.created") == CONCURRENT


async def test_concurrent_resends_store_one_event(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    body = event_envelope(exception_event())
    url = f"/api/{tenant.project_id}/envelope/"
    responses = await asyncio.gather(
        *(client.post(url, content=body, headers=sentry_auth(tenant.public_key)) for _ in range(CONCURRENT))
    )
    assert [r.status_code for r in responses] == [200] * CONCURRENT
    [issue] = await issues_of(runtime, tenant.project_id)
    assert issue.times_seen == 1
    assert len(await events_of(runtime, tenant.project_id)) == 1


async def test_concurrent_events_on_a_resolved_issue_reopen_it_once(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    url = f"/api/{tenant.project_id}/envelope/"
    headers = sentry_auth(tenant.public_key)
    assert (
        await client.post(url, content=event_envelope(exception_event()), headers=headers)
    ).status_code == 200
    async with runtime.sessions() as s:
        await s.execute(
            update(Issue).where(Issue.project_id == tenant.project_id).values(status=IssueStatus.RESOLVED)
        )
        await s.commit()
    bodies = [event_envelope(exception_event()) for _ in range(CONCURRENT)]
    responses = await asyncio.gather(*(client.post(url, content=b, headers=headers) for b in bodies))
    assert [r.status_code for r in responses] == [200] * CONCURRENT
    [issue] = await issues_of(runtime, tenant.project_id)
    assert (issue.status, issue.times_seen) == (IssueStatus.UNRESOLVED, CONCURRENT + 1)
    kinds = [row.payload["type"] for row in await outbox_of(runtime, tenant.organization_id)]
    assert kinds.count("issue.unresolved") == 1
