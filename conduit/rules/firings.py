"""The firing log: what rules did, listed newest first within one organization, kept 30 days.

Every query is scoped by organization where it is built. Pruning deletes in batches, like the
delivery log, so a large backlog never holds one long transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import FiringOutcome, RuleFiring
from conduit.rules import counts
from conduit.runtime import Runtime

RETENTION = timedelta(days=30)
PRUNE_BATCH = 2000


@dataclass(frozen=True)
class Filters:
    project_id: int | None = None
    rule_id: int | None = None
    issue_id: int | None = None
    outcomes: tuple[FiringOutcome, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


def listing(organization_id: int, f: Filters) -> Select[RuleFiring]:
    stmt = select(RuleFiring).where(RuleFiring.organization_id == organization_id)
    if f.project_id is not None:
        stmt = stmt.where(RuleFiring.project_id == f.project_id)
    if f.rule_id is not None:
        stmt = stmt.where(RuleFiring.rule_id == f.rule_id)
    if f.issue_id is not None:
        stmt = stmt.where(RuleFiring.issue_id == f.issue_id)
    if f.outcomes:
        stmt = stmt.where(RuleFiring.outcome.in_(list(f.outcomes)))
    if f.since is not None:
        stmt = stmt.where(RuleFiring.created_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(RuleFiring.created_at < f.until)
    return stmt


async def _prune_batch(session: AsyncSession, cutoff: datetime) -> int:
    ids = select(RuleFiring.id).where(RuleFiring.created_at < cutoff).limit(PRUNE_BATCH).scalar_subquery()
    result = await session.execute(
        delete(RuleFiring).where(RuleFiring.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune(runtime: Runtime, now: datetime | None = None) -> tuple[int, int]:
    """Delete firings older than RETENTION and buckets no window reads; (firings, buckets) deleted."""
    now = now or utcnow()
    total = 0
    while True:
        async with runtime.sessions() as session:
            n = await _prune_batch(session, now - RETENTION)
            await session.commit()
        total += n
        if n < PRUNE_BATCH:
            break
    async with runtime.sessions() as session:
        buckets = await counts.prune(session, now)
        await session.commit()
    return total, buckets
