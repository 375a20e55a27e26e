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

from sqlalchemy import Table, and_, bindparam, case, exists, or_, select, update
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


async def start_runs(
    session: AsyncSession,
    ids: Sequence[int],
    now: datetime,
    leases: Mapping[str, timedelta],
    default: timedelta,
) -> dict[int, Run]:
    """Take the QUEUED rows among `ids`. Absent ids are held by another run, or finished: a double
    hand-over stops here.

    The running lease depends on the kind (its timeout), which is only known once the row is read,
    hence the CASE: one statement, so a double hand-over cannot slip between a read and a write.
    """
    if not ids:
        return {}
    lease_end: Any = (
        case({k: now + v for k, v in leases.items()}, value=OutboxRow.kind, else_=now + default)
        if leases
        else now + default
    )
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(ids), OutboxRow.state == S.QUEUED)
        .values(state=S.RUNNING, attempts=OutboxRow.attempts + 1, started_at=now, lease_expires_at=lease_end)
        .returning(
            OutboxRow.id,
            OutboxRow.kind,
            OutboxRow.payload,
            OutboxRow.organization_id,
            OutboxRow.key,
            OutboxRow.attempts,
            OutboxRow.created_at,
        )
        .execution_options(synchronize_session=False)
    )
    return {
        row_id: Run(row_id, kind, payload or {}, organization_id, key, attempts, created_at, now)
        for row_id, kind, payload, organization_id, key, attempts, created_at in result
    }


async def start_run(
    session: AsyncSession, row_id: int, now: datetime, leases: Mapping[str, timedelta], default: timedelta
) -> Run | None:
    return (await start_runs(session, [row_id], now, leases, default)).get(row_id)


# Columns an outcome may set; "errors" is an increment, the rest are plain values.
OUTCOME_COLUMNS = frozenset(
    {
        "state",
        "attempts",
        "errors",
        "run_after",
        "last_error",
        "dead_reason",
        "finished_at",
        "duration_ms",
        "latency_ms",
    }
)


async def finish_many(session: AsyncSession, outcomes: Sequence[tuple[Run, dict[str, Any]]]) -> None:
    """Record many runs' outcomes in one transaction, skipping any run whose lease was lost meanwhile.

    Outcomes setting the same columns share one executemany statement.
    """
    table: Table = OutboxRow.__table__  # type: ignore[assignment]
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for run, values in outcomes:
        unknown = set(values) - OUTCOME_COLUMNS
        if unknown:
            raise ValueError(f"not an outcome column: {sorted(unknown)}")
        row = {"w_id": run.id, "w_attempt": run.attempt, **{f"p_{k}": v for k, v in values.items()}}
        groups.setdefault(tuple(sorted(values)), []).append(row)
    for columns, params in groups.items():
        sets: dict[str, Any] = {"lease_expires_at": None}
        for col in columns:
            value = bindparam(f"p_{col}", type_=table.c[col].type)
            sets[col] = table.c.errors + value if col == "errors" else value
        stmt = (
            update(table)
            .where(
                table.c.id == bindparam("w_id"),
                table.c.state == S.RUNNING,
                table.c.attempts == bindparam("w_attempt"),
            )
            .values(sets)
        )
        await session.execute(stmt, params)


async def finish(session: AsyncSession, run: Run, values: dict[str, Any]) -> bool:
    """Record a run's outcome, unless the lease was lost and the row moved on without this run."""
    values = dict(values)
    errors = values.pop("errors", None)
    if errors is not None:
        values["errors"] = OutboxRow.errors + errors
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == run.id, OutboxRow.state == S.RUNNING, OutboxRow.attempts == run.attempt)
        .values(lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
