"""A rule's ticket limit: at most `max_tickets_per_hour` requests in any 60 minutes, across workers.

The rule row keeps the times of its recent ticket requests (`ticket_times`, never more than the limit)
and a version. Taking a slot reads both and writes the new list only if the version is unchanged, in
the evaluation's transaction: of two workers racing for the last slot one wins and the other reads the
list again and finds it full. A sliding window, not a clock hour, so a burst at 10:59 and another at
11:00 do not get the limit twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.models import Rule

HOUR = timedelta(hours=1)
ATTEMPTS = 20


class QuotaBusy(Exception):
    """Other workers kept taking slots while this one tried: the job is retried."""


def recent(times: Sequence[str], now: datetime) -> list[datetime]:
    since = now - HOUR
    return sorted(t for t in (datetime.fromisoformat(v) for v in times) if t > since)


def free_at(times: Sequence[datetime], limit: int) -> datetime | None:
    """None when a slot is free now; otherwise when the next one frees."""
    if len(times) < limit:
        return None
    return times[len(times) - limit] + HOUR


async def take(session: AsyncSession, rule_id: int, limit: int, now: datetime) -> datetime | None:
    """Take a slot (None), or say when the next one frees without taking anything."""
    for _ in range(ATTEMPTS):
        row = (
            await session.execute(select(Rule.ticket_times, Rule.quota_version).where(Rule.id == rule_id))
        ).one()
        times = recent(row.ticket_times or [], now)
        blocked = free_at(times, limit)
        if blocked is not None:
            return blocked
        kept = [t.isoformat() for t in times[-(limit - 1) :]] if limit > 1 else []
        result = await session.execute(
            update(Rule)
            .where(Rule.id == rule_id, Rule.quota_version == row.quota_version)
            .values(ticket_times=[*kept, now.isoformat()], quota_version=row.quota_version + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return None
    raise QuotaBusy(f"rule {rule_id}: the ticket limit kept changing while a slot was taken")
