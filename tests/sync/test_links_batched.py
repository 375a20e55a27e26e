"""A page of 50 issues with links reads the cache; stale tickets are refreshed in one batch per
installation, counted as the calls made for this installation.

The sandbox tracker is shared by the whole session, and jobs of earlier tests (another organization's
reconcile) may still call it, so its global call count is only an upper bound; every call Conduit makes
is recorded as an Interaction of the installation it was made for, and those are what is counted."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from conduit.connectors import TicketDraft, get_connectors
from conduit.db.base import utcnow
from conduit.db.models import ExternalIssue, Installation, Interaction, Issue, OutboxRow, OutboxState
from conduit.db.models.outbox import JobSchedule
from conduit.ids import encode
from conduit.sync.links import link_record
from conduit.sync.reconcile import RECONCILE_KIND
from tests.factories import make_issue, make_project
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import idle


async def calls_for(conduit: Conduit, installation_id: int, since: int) -> int:
    """Calls made for the installation after the Interaction with id `since`."""
    async with conduit.runtime.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Interaction)
            .where(Interaction.installation_id == installation_id, Interaction.id > since)
        )
    return int(count or 0)


async def operations_for(conduit: Conduit, installation_id: int, since: int) -> list[str]:
    async with conduit.runtime.sessions() as session:
        found = await session.execute(
            select(Interaction.operation)
            .where(Interaction.installation_id == installation_id, Interaction.id > since)
            .order_by(Interaction.id)
        )
    return list(found.scalars())


async def no_reconcile_running(conduit: Conduit) -> bool:
    async with conduit.runtime.sessions() as session:
        running = await session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(
                OutboxRow.kind == RECONCILE_KIND,
                OutboxRow.state.in_((OutboxState.PENDING, OutboxState.QUEUED, OutboxState.RUNNING)),
            )
        )
    return not running


async def last_call(conduit: Conduit) -> int:
    async with conduit.runtime.sessions() as session:
        return int(await session.scalar(select(func.max(Interaction.id))) or 0)


PAGE = """query($id: ID!) { project(id: $id) { issues(first: 50) { nodes {
  links { externalIssue { key title status lastSyncedAt } } } } } }"""


async def test_page_of_fifty_costs_one_batch(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    connector = await get_connectors(conduit.runtime).connector(installed.id)
    draft = TicketDraft(title="Batch", summary="one of fifty", issue_url="http://x/issues/1")
    # A scope of its own: a listing of what changed then holds these 50 and nothing other tests made.
    async with httpx.AsyncClient(base_url=f"{side.url}/_sandbox", timeout=10) as control:
        scope = await side.driver.new_scope(control)
    records = await asyncio.gather(*(connector.create_ticket(scope, draft) for _ in range(50)))
    async with conduit.runtime.sessions() as session:
        project = await make_project(session, conduit.tenant.organization_id)
        installation = await session.get(Installation, installed.id)
        assert installation is not None
        issue_ids = []
        for record in records:
            issue: Issue = await make_issue(session, conduit.tenant.organization_id, project.id, "Batch")
            await link_record(session, installation, issue, record)
            issue_ids.append(issue.id)
        # Make every cached copy stale.
        await session.execute(
            update(ExternalIssue)
            .where(ExternalIssue.installation_id == installed.id)
            .values(last_synced_at=utcnow() - timedelta(hours=1))
        )
        await session.commit()
    await wait_for(lambda: idle(conduit), "the queue to drain")
    # The periodic reconcile reads every installation, this one too: not while the page is measured.
    async with conduit.runtime.sessions() as session:
        await session.execute(
            update(JobSchedule)
            .where(JobSchedule.name == RECONCILE_KIND)
            .values(next_run_at=utcnow() + timedelta(hours=1))
        )
        await session.commit()
    await wait_for(lambda: no_reconcile_running(conduit), "a running reconcile to finish")
    await side.clear_calls()
    before = await last_call(conduit)

    cold = (await conduit.graphql(PAGE, id=encode("Project", project.id)))["project"]["issues"]["nodes"]
    assert len(cold) == 50 and all(len(n["links"]) == 1 for n in cold)
    await wait_for(lambda: idle(conduit), "the revalidation to finish")
    # One listing, or one search, for all 50.
    assert await calls_for(conduit, installed.id, before) == 1, await operations_for(
        conduit, installed.id, before
    )
    assert await side.calls() >= 1  # and the tracker did receive it

    before = await last_call(conduit)
    warm = (await conduit.graphql(PAGE, id=encode("Project", project.id)))["project"]["issues"]["nodes"]
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await calls_for(conduit, installed.id, before) == 0
    synced = [n["links"][0]["externalIssue"]["lastSyncedAt"] for n in warm]
    assert all(s is not None and s > cold[0]["links"][0]["externalIssue"]["lastSyncedAt"] for s in synced)
