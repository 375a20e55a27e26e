"""Periodic jobs: each due run becomes one outbox row, claimed through `job_schedule` by one process."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models.outbox import JobSchedule
from conduit.jobs import outbox, writes
from conduit.jobs.registry import PeriodicSpec, Registry
from conduit.runtime import Runtime

log = logging.getLogger("conduit.jobs.periodic")
TICK_SECONDS = 1.0


async def _next_run(session: AsyncSession, name: str, now: datetime) -> datetime:
    next_run = await session.scalar(select(JobSchedule.next_run_at).where(JobSchedule.name == name))
    if next_run is not None:
        return next_run
    try:
        async with session.begin_nested():
            session.add(JobSchedule(name=name, next_run_at=now))
    except IntegrityError:
        pass  # another process created it first; the guarded UPDATE below settles who runs it
    return now


async def schedule_due(session: AsyncSession, spec: PeriodicSpec, now: datetime) -> bool:
    """Write the next run of `spec` if it is due and no other process has; True if this one did."""
    # Read first so an idle tick writes nothing (SQLite has one writer at a time).
    if await _next_run(session, spec.name, now) > now:
        return False
    claimed = await session.execute(
        update(JobSchedule)
        .where(JobSchedule.name == spec.name, JobSchedule.next_run_at <= now)
        .values(next_run_at=now + timedelta(seconds=spec.every), last_run_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return False
    # The key keeps two runs of one periodic job from overlapping if one runs long.
    outbox.enqueue(session, spec.kind, key=f"periodic:{spec.name}")
    return True


async def run_scheduler(runtime: Runtime, registry: Registry) -> None:
    while True:
        for spec in registry.periodic_jobs():
            try:
                async with writes.transaction(runtime) as session:
                    if await schedule_due(session, spec, utcnow()):
                        log.info("scheduled periodic job %s", spec.name)
            except Exception as exc:
                log.warning("scheduling %s failed, will retry: %s: %s", spec.name, type(exc).__name__, exc)
        await asyncio.sleep(TICK_SECONDS)
