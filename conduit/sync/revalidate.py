"""Revalidation on read: a page that shows cached tickets older than STALE_AFTER asks for a refresh.

The page is served from the cache at once (no tracker call on the read path); one job per
installation then reads the stale tickets back in a batch. The job waits COALESCE before it runs: a
page's links may be loaded in more than one batch (the executor yields to the loop between them), and
every request made while the job waits adds its tickets to that job instead of queueing another, so
one page costs one batch per installation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conduit.db.base import utcnow
from conduit.db.models import ExternalIssue, OutboxRow, OutboxState
from conduit.jobs import outbox
from conduit.sync.reconcile import REVALIDATE_KIND

STALE_AFTER = timedelta(minutes=5)
COALESCE = timedelta(seconds=1)
WAITING = (OutboxState.PENDING, OutboxState.QUEUED)


def revalidate_key(installation_id: int) -> str:
    return f"revalidate:{installation_id}"


async def request(
    sessions: async_sessionmaker[AsyncSession], organization_id: int, externals: Sequence[ExternalIssue]
) -> int:
    """Queue one revalidation per installation with stale tickets; returns how many were queued."""
    cutoff = utcnow() - STALE_AFTER
    stale: dict[int, list[int]] = defaultdict(list)
    for e in externals:
        if not e.deleted and (e.last_synced_at is None or e.last_synced_at < cutoff):
            stale[e.installation_id].append(e.id)
    if not stale:
        return 0
    async with sessions() as session:
        keys = [revalidate_key(i) for i in stale]
        rows = (
            await session.execute(
                select(OutboxRow).where(
                    OutboxRow.kind == REVALIDATE_KIND,
                    OutboxRow.key.in_(keys),
                    OutboxRow.state.in_(WAITING),
                )
            )
        ).scalars()
        waiting = {row.key: row for row in rows}
        queued = 0
        for installation_id, ids in stale.items():
            row = waiting.get(revalidate_key(installation_id))
            if row is not None and await _absorb(session, row, ids):
                continue
            outbox.enqueue(
                session,
                REVALIDATE_KIND,
                installation_id,
                sorted(set(ids)),
                organization_id=organization_id,
                key=revalidate_key(installation_id),
                run_after=utcnow() + COALESCE,
            )
            queued += 1
        await session.commit()
    return queued


async def _absorb(session: AsyncSession, row: OutboxRow, ids: list[int]) -> bool:
    """Add `ids` to a revalidation still waiting to be picked up; False when it no longer waits (it
    was handed to a runner meanwhile, with the tickets it had: then a new one is needed)."""
    args = (row.payload or {}).get(outbox.ARGS)
    if not isinstance(args, list) or len(args) != 2 or not isinstance(args[1], list):
        return False
    have = {i for i in args[1] if isinstance(i, int)}
    if set(ids) <= have:
        return True
    merged = {outbox.ARGS: [args[0], sorted(have | set(ids))]}
    changed = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row.id, OutboxRow.state == OutboxState.PENDING)
        .values(payload=merged)
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]
