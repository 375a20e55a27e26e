"""Writing work into the outbox, inside the caller's transaction.

`enqueue(session, kind, *args)` records a call of the kind's handler as `handler(ctx, *args)`; the args
are JSON values, ids wherever the subject has a row (the handler loads it, so it acts on the row as it
is when the job runs). `add` writes a raw payload: the `events.publish` row, which carries the event
itself, and rows written by earlier versions, whose handlers read `ctx.payload`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import OutboxRow
from conduit.jobs import wakeup
from conduit.jobs.registry import registry
from conduit.tracing import current_traceparent

ARGS = "args"
# What a job argument may be: anything JSON holds.
JSONValue = int | str | float | bool | None | list[Any] | dict[str, Any]


def add(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    organization_id: int | None = None,
    key: str | None = None,
    run_after: datetime | None = None,
) -> OutboxRow:
    """Record a job. It exists once the caller commits, and not before: that is the point."""
    spec = registry.get(kind)
    if spec is not None and spec.ordered and not key:
        raise ValueError(f"job kind {kind!r} is ordered by key; pass key=")
    row = OutboxRow(
        kind=kind,
        payload=payload,
        organization_id=organization_id,
        key=key,
        run_after=run_after or utcnow(),
        traceparent=current_traceparent(),
    )
    session.add(row)
    # After commit, the dispatchers of this engine are woken (see conduit.jobs.wakeup).
    wakeup.mark_written(session.sync_session)
    return row


def enqueue(
    session: AsyncSession,
    kind: str,
    *args: JSONValue,
    organization_id: int | None = None,
    key: str | None = None,
    run_after: datetime | None = None,
) -> OutboxRow:
    """Record a job called as `fn(ctx, *args)`: jobs take ids and other JSON values, never objects."""
    return add(
        session, kind, {ARGS: list(args)}, organization_id=organization_id, key=key, run_after=run_after
    )
