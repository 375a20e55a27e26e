"""An installation's health over a window, computed from its recorded Interactions.

For the summary (`health`), percentiles are taken in Python over the window's durations, capped at
MAX_ROWS newest calls, so the same code runs on SQLite and PostgreSQL and one busy installation cannot
make the query heavy. The series (`series`) is aggregated by the database per bucket of a fixed grid
(conduit.db.series), uncapped: every call counts, and a bucket without calls is there with zeros.
The latest calls themselves (`recent`) are read newest first, at most MAX_RECENT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import Interaction, InteractionOutcome
from conduit.db.series import Grid, percentile, percentiles

MAX_ROWS = 20_000
MAX_RECENT = 100


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


@dataclass(frozen=True, slots=True)
class Point:
    """The calls of one bucket."""

    start: datetime
    calls: int
    errors: int  # FAILURE and HALTED together, as in Health.error_rate
    p50_ms: float | None
    p95_ms: float | None
    # The lowest headroom any answer in the bucket reported: how close the bucket came to the limit.
    rate_limit_remaining: int | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


async def series(
    session: AsyncSession, organization_id: int, installation_id: int, grid: Grid
) -> list[Point]:
    where = [Interaction.organization_id == organization_id, Interaction.installation_id == installation_id]
    bucket = grid.bucket(Interaction.created_at, session.get_bind().dialect.name).label("bucket")
    stmt = (
        select(
            bucket,
            func.count(),
            func.sum(case((Interaction.outcome != InteractionOutcome.SUCCESS, 1), else_=0)),
            func.min(Interaction.rate_limit_remaining),
        )
        .where(grid.within(Interaction.created_at), *where)
        .group_by(bucket)
    )
    counts = {int(b): (int(n), int(e or 0), low) for b, n, e, low in await session.execute(stmt)}
    quantiles = await percentiles(session, grid, Interaction.created_at, Interaction.duration_ms, where)
    points = []
    for index, start in enumerate(grid.starts()):
        calls, errors, low = counts.get(index, (0, 0, None))
        p50, p95 = quantiles.get(index, (None, None))
        points.append(Point(start, calls, errors, p50, p95, None if low is None else int(low)))
    return points


async def recent(
    session: AsyncSession, organization_id: int, installation_id: int, limit: int
) -> list[Interaction]:
    """The installation's latest calls to its tracker, newest first (at most MAX_RECENT)."""
    stmt = (
        select(Interaction)
        .where(Interaction.organization_id == organization_id, Interaction.installation_id == installation_id)
        .order_by(Interaction.created_at.desc(), Interaction.id.desc())
        .limit(max(1, min(limit, MAX_RECENT)))
    )
    return list((await session.execute(stmt)).scalars())
