"""Revalidation on read: a page that shows cached tickets older than STALE_AFTER asks for a refresh.

The page is served from the cache at once (no tracker call on the read path); one job per
installation then reads the stale tickets back in a batch. While such a job is waiting, another
read asks for nothing more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conduit.db.base import utcnow
from conduit.db.models import ExternalIssue, OutboxRow, OutboxState
from conduit.jobs import outbox
from conduit.sync.reconcile import REVALIDATE_KIND

STALE_AFTER = timedelta(minutes=5)
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
        waiting = set(
            (
                await session.execute(
                    select(OutboxRow.key).where(
                        OutboxRow.kind == REVALIDATE_KIND,
                        OutboxRow.key.in_(keys),
                        OutboxRow.state.in_(WAITING),
                    )
                )
            ).scalars()
        )
        queued = 0
        for installation_id, ids in stale.items():
            key = revalidate_key(installation_id)
            if key in waiting:
                continue
            outbox.enqueue(
                session,
                REVALIDATE_KIND,
                installation_id,
                sorted(set(ids)),
                organization_id=organization_id,
                key=key,
            )
            queued += 1
        await session.commit()
    return queued
