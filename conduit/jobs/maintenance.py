"""Keeping the outbox small: finished rows are pruned after the retention period."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from conduit.db.base import utcnow
from conduit.db.models import OutboxRow, OutboxState
from conduit.jobs import writes
from conduit.jobs.context import JobContext
from conduit.jobs.registry import job

PRUNE_KIND = "jobs.prune"
PRUNE_BATCH = 5000


async def prune_done(ctx: JobContext, retention: timedelta) -> int:
    """Delete DONE rows finished before the retention window; dead rows stay until someone acts."""
    cutoff = utcnow() - retention
    total = 0
    while True:
        # In batches, so a large backlog never holds one long transaction.
        async with writes.transaction(ctx.runtime) as session:
            ids = (
                select(OutboxRow.id)
                .where(OutboxRow.state == OutboxState.DONE, OutboxRow.finished_at < cutoff)
                .limit(PRUNE_BATCH)
                .scalar_subquery()
            )
            result = await session.execute(
                delete(OutboxRow).where(OutboxRow.id.in_(ids)).execution_options(synchronize_session=False)
            )
        n = int(result.rowcount or 0)  # type: ignore[attr-defined]
        total += n
        if n < PRUNE_BATCH:
            return total


@job(PRUNE_KIND, max_tries=3, timeout=300)
async def prune(ctx: JobContext) -> None:
    retention = timedelta(days=ctx.settings.retention_days)
    deleted = await prune_done(ctx, retention)
    ctx.log.info("pruned %d finished jobs older than %s", deleted, retention)
