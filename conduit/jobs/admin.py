"""What admins see and do with their organization's jobs: list, replay dead ones, queue health."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import OutboxRow, OutboxState
from conduit.jobs import wakeup

MAX_PAGE = 200
WAITING = (OutboxState.PENDING, OutboxState.QUEUED)


async def list_jobs(
    session: AsyncSession,
    organization_id: int,
    state: OutboxState | str | None = None,
    kind: str | None = None,
    first: int = 50,
    after_id: int | None = None,
) -> list[OutboxRow]:
    """Newest first; `after_id` is the last id of the previous page."""
    if not 1 <= first <= MAX_PAGE:
        raise ValueError(f"first must be between 1 and {MAX_PAGE}, got {first}")
    stmt = select(OutboxRow).where(OutboxRow.organization_id == organization_id)
    if state is not None:
        try:
            stmt = stmt.where(OutboxRow.state == OutboxState(state))
        except ValueError:
            known = ", ".join(s.value for s in OutboxState)
            raise ValueError(f"unknown job state {state!r}; expected one of {known}") from None
    if kind is not None:
        stmt = stmt.where(OutboxRow.kind == kind)
    if after_id is not None:
        stmt = stmt.where(OutboxRow.id < after_id)
    rows = await session.scalars(stmt.order_by(OutboxRow.id.desc()).limit(first))
    return list(rows)


async def retry_job(session: AsyncSession, organization_id: int, job_id: int) -> OutboxRow | None:
    """Replay a dead job from scratch. None when there is no dead job with that id in the organization."""
    result = await session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.id == job_id,
            OutboxRow.organization_id == organization_id,
            OutboxRow.state == OutboxState.DEAD,
        )
        .values(
            state=OutboxState.PENDING,
            attempts=0,
            run_after=utcnow(),
            lease_expires_at=None,
            dead_reason=None,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    wakeup.mark_written(session.sync_session)
    await session.commit()
    return await session.get(OutboxRow, job_id, populate_existing=True)


@dataclass
class KindStats:
    kind: str
    done: int = 0
    dead: int = 0
    failures: int = 0  # failed runs, whether or not a later try succeeded
    avg_duration_ms: float | None = None
    max_duration_ms: int | None = None
    avg_latency_ms: float | None = None  # from creation to done


@dataclass
class QueueStats:
    depth: dict[str, int]  # rows per state
    oldest_pending_age_seconds: float | None  # the longest any row has waited to start
    kinds: list[KindStats] = field(default_factory=list)


async def queue_stats(session: AsyncSession, organization_id: int) -> QueueStats:
    org = OutboxRow.organization_id == organization_id
    depth = {s.value: 0 for s in OutboxState}
    for state, count in await session.execute(
        select(OutboxRow.state, func.count()).where(org).group_by(OutboxRow.state)
    ):
        depth[OutboxState(state).value] = int(count)

    oldest: datetime | None = await session.scalar(
        select(func.min(OutboxRow.created_at)).where(org, OutboxRow.state.in_(WAITING))
    )
    age = None
    if oldest is not None:
        # SQLite returns aggregates without the column type's conversion: a naive UTC value or text.
        if isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest)
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=utcnow().tzinfo)
        age = max((utcnow() - oldest).total_seconds(), 0.0)

    done = OutboxRow.state == OutboxState.DONE
    stmt = (
        select(
            OutboxRow.kind,
            func.count().filter(done),
            func.count().filter(OutboxRow.state == OutboxState.DEAD),
            func.coalesce(func.sum(OutboxRow.errors), 0),
            func.avg(OutboxRow.duration_ms).filter(done),
            func.max(OutboxRow.duration_ms).filter(done),
            func.avg(OutboxRow.latency_ms).filter(done),
        )
        .where(org)
        .group_by(OutboxRow.kind)
        .order_by(OutboxRow.kind)
    )
    kinds = [
        KindStats(
            kind=kind,
            done=int(n_done),
            dead=int(n_dead),
            failures=int(failures),
            avg_duration_ms=None if avg_d is None else float(avg_d),
            max_duration_ms=None if max_d is None else int(max_d),
            avg_latency_ms=None if avg_l is None else float(avg_l),
        )
        for kind, n_done, n_dead, failures, avg_d, max_d, avg_l in await session.execute(stmt)
    ]
    return QueueStats(depth=depth, oldest_pending_age_seconds=age, kinds=kinds)
