"""Writing work into the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import OutboxRow


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
    row = OutboxRow(
        kind=kind,
        payload=payload,
        organization_id=organization_id,
        key=key,
        run_after=run_after or utcnow(),
    )
    session.add(row)
    return row
