"""The state changes of an outbox row, each one guarded so many processes can race safely.

    PENDING --claim_due--> QUEUED --start_runs--> RUNNING --finish--> DONE | DEAD | PENDING (retry)
    QUEUED/RUNNING --sweep_expired (lease ran out)--> PENDING

Every change is a single statement, atomic on its own, so it may run in autocommit. On PostgreSQL,
claiming locks candidates with FOR UPDATE SKIP LOCKED; on SQLite (one embedded process) the
`state = ...` guard in every UPDATE is what keeps two runs apart.

The statements are built once and take their values as parameters: building SQLAlchemy
expressions costs more CPU than running them, and these run for every job.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import Update

from conduit.db.models import OutboxRow, OutboxState
from conduit.db.models.outbox import UNFINISHED

S = OutboxState
TABLE: Table = OutboxRow.__table__  # type: ignore[assignment]
C = TABLE.c
# Either a session (tests, the sweeper's transaction) or a bare connection (the runners' writes).
Conn = AsyncSession | AsyncConnection


def _when(name: str) -> Any:
    return bindparam(name, type_=C.lease_expires_at.type)


def _ids() -> Any:
    return bindparam("p_ids", expanding=True)


def _key_heads() -> Any:
    """The id of each key's first waiting row, for keys with no leased row: the only row of a key
    that may go next (rows of a key run one at a time, in id order).

    One grouping pass over the unfinished keyed rows, computed once per claim: a claim then tests
    each waiting row against this set instead of searching the outbox for a blocker per row, which
    made its cost grow with every row queued behind a held key.
    """
    other = TABLE.alias("other")
    leased = case((other.c.state == S.PENDING, 0), else_=1)
    return (
        select(func.min(other.c.id))
        .where(other.c.state.in_(UNFINISHED), other.c.key.is_not(None))
        .group_by(other.c.key)
        .having(func.sum(leased) == 0)
    )


@functools.cache
def _claim(limit: int) -> Update:
    # A keyed row is a candidate only as its key's head. The head's run_after is checked here, after
    # picking it, so a head that is not yet due still holds back the rows behind it.
    due = (
        select(C.id)
        .where(
            C.state == S.PENDING, C.run_after <= _when("p_now"), or_(C.key.is_(None), C.id.in_(_key_heads()))
        )
        .order_by(C.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=TABLE)
        .cte("due")
    )
    return (
        update(TABLE)
        .where(C.id.in_(select(due.c.id)), C.state == S.PENDING)
        .values(state=S.QUEUED, lease_expires_at=_when("p_lease_end"))
        .returning(C.id)
    )


async def claim_due(conn: Conn, now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Move up to `limit` due rows to QUEUED and return their ids (committed before handing them over)."""
    result = await conn.execute(_claim(limit), {"p_now": now, "p_lease_end": now + lease})
    return sorted(result.scalars())


_RELEASE = (
    update(TABLE).where(C.id.in_(_ids()), C.state == S.QUEUED).values(state=S.PENDING, lease_expires_at=None)
)


async def release(conn: Conn, ids: Sequence[int]) -> None:
    """Give back rows whose hand-over failed, so the next dispatch tries them again."""
    if ids:
        await conn.execute(_RELEASE, {"p_ids": list(ids)})


async def sweep_expired(conn: Conn, now: datetime) -> tuple[list[int], list[int]]:
    """Return rows whose lease ran out to PENDING: (ids that were queued, ids that were running)."""
    found: list[list[int]] = []
    for state in (S.QUEUED, S.RUNNING):
        result = await conn.execute(
            update(TABLE)
            .where(C.state == state, C.lease_expires_at < now)
            .values(state=S.PENDING, lease_expires_at=None, run_after=now)
            .returning(C.id)
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
    # When the row was due: started_at - run_after is how long it waited for a runner.
    run_after: datetime | None = None
    # The trace context the row was written in, for the job's span (None when it was not traced).
    traceparent: str | None = None


_RUN_COLUMNS = (
    C.id,
    C.kind,
    C.payload,
    C.organization_id,
    C.key,
    C.attempts,
    C.created_at,
    C.run_after,
    C.traceparent,
)


@functools.cache
def _start(kinds: tuple[str, ...]) -> Update:
    # The running lease depends on the kind (its timeout), which is only known once the row is
    # read, hence the CASE: one statement, so a double hand-over cannot slip between a read and a write.
    lease_end: Any = (
        case({k: _when(f"p_lease_{i}") for i, k in enumerate(kinds)}, value=C.kind, else_=_when("p_lease"))
        if kinds
        else _when("p_lease")
    )
    return (
        update(TABLE)
        .where(C.id.in_(_ids()), C.state == S.QUEUED)
        .values(
            state=S.RUNNING, attempts=C.attempts + 1, started_at=_when("p_now"), lease_expires_at=lease_end
        )
        .returning(*_RUN_COLUMNS)
    )


async def start_runs(
    conn: Conn,
    ids: Sequence[int],
    now: datetime,
    leases: Mapping[str, timedelta],
    default: timedelta,
) -> dict[int, Run]:
    """Take the QUEUED rows among `ids`. Absent ids are held by another run, or finished: a double
    hand-over stops here."""
    if not ids:
        return {}
    kinds = tuple(sorted(leases))
    params: dict[str, Any] = {"p_ids": list(ids), "p_now": now, "p_lease": now + default}
    params.update({f"p_lease_{i}": now + leases[k] for i, k in enumerate(kinds)})
    result = await conn.execute(_start(kinds), params)
    return {
        row_id: Run(
            row_id, kind, payload or {}, organization_id, key, attempts, created_at, now, run_after, tp
        )
        for row_id, kind, payload, organization_id, key, attempts, created_at, run_after, tp in result
    }


async def start_run(
    conn: Conn, row_id: int, now: datetime, leases: Mapping[str, timedelta], default: timedelta
) -> Run | None:
    return (await start_runs(conn, [row_id], now, leases, default)).get(row_id)


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


@functools.cache
def _finish(columns: tuple[str, ...]) -> Update:
    sets: dict[str, Any] = {"lease_expires_at": None}
    for col in columns:
        value = bindparam(f"p_{col}", type_=C[col].type)
        sets[col] = C.errors + value if col == "errors" else value
    return (
        update(TABLE)
        .where(C.id == bindparam("w_id"), C.state == S.RUNNING, C.attempts == bindparam("w_attempt"))
        .values(sets)
    )


def _outcome_params(run: Run, values: Mapping[str, Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    unknown = set(values) - OUTCOME_COLUMNS
    if unknown:
        raise ValueError(f"not an outcome column: {sorted(unknown)}")
    row = {"w_id": run.id, "w_attempt": run.attempt, **{f"p_{k}": v for k, v in values.items()}}
    return tuple(sorted(values)), row


async def finish_many(conn: Conn, outcomes: Sequence[tuple[Run, Mapping[str, Any]]]) -> None:
    """Record many runs' outcomes, skipping any run whose lease was lost meanwhile.

    Outcomes setting the same columns share one executemany statement. Each row's change stands
    alone, so the statements need not share a transaction.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for run, values in outcomes:
        columns, row = _outcome_params(run, values)
        groups.setdefault(columns, []).append(row)
    for columns, params in groups.items():
        await conn.execute(_finish(columns), params)


async def finish(conn: Conn, run: Run, values: Mapping[str, Any]) -> bool:
    """Record a run's outcome, unless the lease was lost and the row moved on without this run."""
    columns, row = _outcome_params(run, values)
    result = await conn.execute(_finish(columns), row)
    return bool(result.rowcount)  # type: ignore[attr-defined]
