"""Revalidation on read: the requests one page makes, in however many batches its links were loaded,
come to one job per installation holding every stale ticket they asked for."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from conduit.db.base import utcnow
from conduit.db.models import ExternalIssue, Installation, InstallationStatus, OutboxRow, OutboxState
from conduit.jobs.outbox import ARGS
from conduit.runtime import Runtime
from conduit.sync import revalidate
from conduit.sync.reconcile import REVALIDATE_KIND
from tests.conftest import Tenant


async def _stale_tickets(runtime: Runtime, tenant: Tenant, n: int) -> list[ExternalIssue]:
    async with runtime.sessions() as session:
        installation = Installation(
            organization_id=tenant.organization_id,
            provider="github",
            config={},
            status=InstallationStatus.ACTIVE,
        )
        session.add(installation)
        await session.flush()
        rows = [
            ExternalIssue(
                organization_id=tenant.organization_id,
                installation_id=installation.id,
                key=f"acme/app#{i}",
                url=f"https://github.com/acme/app/issues/{i}",
                last_synced_at=utcnow() - timedelta(hours=1),
            )
            for i in range(1, n + 1)
        ]
        session.add_all(rows)
        await session.commit()
        return rows


async def _jobs(runtime: Runtime, tenant: Tenant) -> list[OutboxRow]:
    async with runtime.sessions() as session:
        found = await session.execute(
            select(OutboxRow).where(
                OutboxRow.kind == REVALIDATE_KIND, OutboxRow.organization_id == tenant.organization_id
            )
        )
        return list(found.scalars())


async def test_batches_of_one_page_come_to_one_job(runtime: Runtime, tenant: Tenant) -> None:
    *tickets, extra = await _stale_tickets(runtime, tenant, 7)
    assert await revalidate.request(runtime.sessions, tenant.organization_id, tickets[:4]) == 1
    # The rest of the page, loaded a moment later: absorbed by the job still waiting.
    assert await revalidate.request(runtime.sessions, tenant.organization_id, tickets[2:]) == 0
    [job] = await _jobs(runtime, tenant)
    assert job.payload[ARGS][1] == sorted(t.id for t in tickets)
    assert job.run_after is not None and job.run_after > utcnow() - timedelta(seconds=5)

    # Once a runner has it, what it holds is not asked again; a ticket it lacks is a new job.
    async with runtime.sessions() as session:
        await session.execute(
            update(OutboxRow).where(OutboxRow.id == job.id).values(state=OutboxState.QUEUED)
        )
        await session.commit()
    assert await revalidate.request(runtime.sessions, tenant.organization_id, tickets[:2]) == 0
    assert await revalidate.request(runtime.sessions, tenant.organization_id, tickets[:1]) == 0
    assert await revalidate.request(runtime.sessions, tenant.organization_id, [tickets[0], extra]) == 1
    later = [j for j in await _jobs(runtime, tenant) if j.id != job.id]
    assert [j.payload[ARGS][1] for j in later] == [sorted([tickets[0].id, extra.id])]
