"""An installation's health over a window, computed from its recorded Interactions.

Percentiles are taken in Python over the window's durations, capped at MAX_ROWS newest calls, so
the same code runs on SQLite and PostgreSQL and one busy installation cannot make the query heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import Interaction, InteractionOutcome

MAX_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class Health:
    calls: int
    failures: int  # FAILURE: our side or a passing fault
    halted: int  # HALTED: the tracker's or the user's side
    p50_ms: float | None
    p95_ms: float | None
    last_error: str | None
    last_error_at: datetime | None
    rate_limit_remaining: int | None
    # True when the window held more calls than were read.
    truncated: bool

    @property
    def error_rate(self) -> float:
        return (self.failures + self.halted) / self.calls if self.calls else 0.0


def percentile(sorted_values: list[int], q: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont does."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


async def health(
    session: AsyncSession, organization_id: int, installation_id: int, window: timedelta
) -> Health:
    stmt = (
        select(
            Interaction.duration_ms,
            Interaction.outcome,
            Interaction.error,
            Interaction.created_at,
            Interaction.rate_limit_remaining,
        )
        .where(
            Interaction.organization_id == organization_id,
            Interaction.installation_id == installation_id,
            Interaction.created_at >= utcnow() - window,
        )
        .order_by(Interaction.created_at.desc(), Interaction.id.desc())
        .limit(MAX_ROWS + 1)
    )
    rows = (await session.execute(stmt)).all()
    truncated = len(rows) > MAX_ROWS
    rows = rows[:MAX_ROWS]
    durations = sorted(int(r.duration_ms) for r in rows)
    failures = sum(1 for r in rows if r.outcome == InteractionOutcome.FAILURE)
    halted = sum(1 for r in rows if r.outcome == InteractionOutcome.HALTED)
    last_error = next((r for r in rows if r.error), None)
    remaining = next((r.rate_limit_remaining for r in rows if r.rate_limit_remaining is not None), None)
    return Health(
        calls=len(rows),
        failures=failures,
        halted=halted,
        p50_ms=percentile(durations, 0.5),
        p95_ms=percentile(durations, 0.95),
        last_error=last_error.error if last_error else None,
        last_error_at=last_error.created_at if last_error else None,
        rate_limit_remaining=remaining,
        truncated=truncated,
    )
