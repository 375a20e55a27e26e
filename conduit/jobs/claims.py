"""The state changes of an outbox row, each one guarded so many processes can race safely.

    PENDING --claim_due--> QUEUED --start_run--> RUNNING --finish--> DONE | DEAD | PENDING (retry)
    QUEUED/RUNNING --sweep_expired (lease ran out)--> PENDING

On PostgreSQL, claiming locks candidates with FOR UPDATE SKIP LOCKED; on SQLite (one embedded
process) the `state = ...` guard in every UPDATE is what keeps two runs apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from conduit.db.models import OutboxRow, OutboxState
from conduit.db.models.outbox import LEASED

S = OutboxState


def _key_is_free() -> Any:
    """No other row with this key is leased, and no earlier one is still waiting."""
    other = aliased(OutboxRow)
    blocker = exists().where(
        other.key == OutboxRow.key,
        other.id != OutboxRow.id,
        or_(other.state.in_(LEASED), and_(other.id < OutboxRow.id, other.state == S.PENDING)),
    )
    return or_(OutboxRow.key.is_(None), ~blocker)


async def claim_due(session: AsyncSession, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Move up to `limit` due rows to QUEUED and return their ids (commit before handing them over)."""
    candidates = (
        select(OutboxRow.id)
        .where(OutboxRow.state == S.PENDING, OutboxRow.run_after <= now, _key_is_free())
        .order_by(OutboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxRow)
    )
    ids = list((await session.execute(candidates)).scalars())
    if not ids:
        return []
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(ids), OutboxRow.state == S.PENDING)
        .values(state=S.QUEUED, lease_expires_at=now + lease)
        .returning(OutboxRow.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars())


async def release(session: AsyncSession, ids: Sequence[int]) -> None:
    """Give back rows whose hand-over failed, so the next dispatch tries them again."""
    if ids:
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids), OutboxRow.state == S.QUEUED)
            .values(state=S.PENDING, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


async def sweep_expired(session: AsyncSession, now: datetime) -> tuple[list[int], list[int]]:
    """Return rows whose lease ran out to PENDING: (ids that were queued, ids that were running)."""
    found: list[list[int]] = []
    for state in (S.QUEUED, S.RUNNING):
        result = await session.execute(
            update(OutboxRow)
            .where(OutboxRow.state == state, OutboxRow.lease_expires_at < now)
            .values(state=S.PENDING, lease_expires_at=None, run_after=now)
            .returning(OutboxRow.id)
            .execution_options(synchronize_session=False)
        )
        found.append(sorted(result.scalars()))
    return found[0], found[1]


@dataclass(frozen=True)
class Run:
    """A row a runner now holds: `attempt` is its token for recording the outcome."""

    id: int
    kind: str
    payload: dict[str, Any]
    organization_id: int | None
    key: str | None
    attempt: int
    created_at: datetime
    started_at: datetime


async def start_run(
    session: AsyncSession, row_id: int, now: datetime, leases: Mapping[str, timedelta], default: timedelta
) -> Run | None:
    """Take a QUEUED row. None when another run has it, or it is done: a double hand-over stops here.

    The running lease depends on the kind (its timeout), which is only known once the row is read,
    hence the CASE: one statement, so a double hand-over cannot slip between a read and a write.
    """
    lease_end: Any = (
        case({k: now + v for k, v in leases.items()}, value=OutboxRow.kind, else_=now + default)
        if leases
        else now + default
    )
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row_id, OutboxRow.state == S.QUEUED)
        .values(state=S.RUNNING, attempts=OutboxRow.attempts + 1, started_at=now, lease_expires_at=lease_end)
        .returning(
            OutboxRow.kind,
            OutboxRow.payload,
            OutboxRow.organization_id,
            OutboxRow.key,
            OutboxRow.attempts,
            OutboxRow.created_at,
        )
        .execution_options(synchronize_session=False)
    )
    row = result.one_or_none()
    if row is None:
        return None
    kind, payload, organization_id, key, attempts, created_at = row
    return Run(row_id, kind, payload or {}, organization_id, key, attempts, created_at, now)


async def finish(session: AsyncSession, run: Run, values: dict[str, Any]) -> bool:
    """Record a run's outcome, unless the lease was lost and the row moved on without this run."""
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == run.id, OutboxRow.state == S.RUNNING, OutboxRow.attempts == run.attempt)
        .values(lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
