"""Job kinds used by the job tests; the worker subprocess imports this via CONDUIT_JOBS_MODULES."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from conduit.jobs import PermanentFailure, Retry, job
from conduit.jobs.context import JobContext

metadata = MetaData()
# One row per job that had an effect, with how many times the effect was applied.
effects = Table(
    "test_job_effect",
    metadata,
    Column("row_id", BigInteger, primary_key=True),
    Column("tag", String(100)),
    Column("runs", Integer, nullable=False),
)
# Start/end marks of ordered jobs, in the order they happened.
trace = Table(
    "test_job_trace",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("row_id", BigInteger, nullable=False),
    Column("key", String(200)),
    Column("mark", String(10), nullable=False),
)


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


async def record_effect(session: AsyncSession, row_id: int, tag: str) -> None:
    """Idempotent by row id: a second run bumps `runs` instead of adding a second effect."""
    dialect = session.get_bind().dialect.name
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(effects).values(
        row_id=row_id, tag=tag, runs=1
    )
    await session.execute(
        ins.on_conflict_do_update(index_elements=["row_id"], set_={"runs": effects.c.runs + 1})
    )


@job("test.record", max_tries=3, timeout=5, backoff_base=0.05)
async def record(ctx: JobContext, tag: str, pause: float = 0.0) -> None:
    if pause:
        await asyncio.sleep(pause)
    async with ctx.runtime.sessions() as session, session.begin():
        await record_effect(session, ctx.job_id, tag)


@job("test.flaky", max_tries=3, timeout=5, backoff_base=0.05, backoff_cap=0.2)
async def flaky(ctx: JobContext, fail_times: int) -> None:
    """Fails its first `fail_times` runs, counted across manual retries too."""
    async with ctx.runtime.sessions() as session, session.begin():
        await record_effect(session, ctx.job_id, "flaky")
        runs = await session.scalar(select(effects.c.runs).where(effects.c.row_id == ctx.job_id))
    if runs is not None and runs <= fail_times:
        raise RuntimeError(f"flaky failure {runs}")


@job("test.permanent", max_tries=5, timeout=5)
async def permanent(ctx: JobContext) -> None:
    raise PermanentFailure("the target was deleted")


@job("test.retry_after", max_tries=3, timeout=5)
async def retry_after(ctx: JobContext, defer: float) -> None:
    async with ctx.runtime.sessions() as session, session.begin():
        await session.execute(insert(trace).values(row_id=ctx.job_id, key=None, mark=f"try{ctx.attempt}"))
    if ctx.attempt == 1:
        raise Retry(defer=defer, reason="rate limited")


@job("test.ordered", max_tries=3, timeout=5, ordered=True)
async def ordered(ctx: JobContext, pause: float) -> None:
    for mark in ("start", "end"):
        async with ctx.runtime.sessions() as session, session.begin():
            await session.execute(insert(trace).values(row_id=ctx.job_id, key=ctx.key, mark=mark))
        if mark == "start":
            await asyncio.sleep(pause)


# In-process rendezvous: a job of this kind succeeds only if `n` jobs of its group run at the same time.
_arrived: dict[str, int] = defaultdict(int)
_together: dict[str, asyncio.Event] = defaultdict(asyncio.Event)


@job("test.rendezvous", max_tries=1, timeout=10)
async def rendezvous(ctx: JobContext, group: str, n: int) -> None:
    _arrived[group] += 1
    if _arrived[group] >= n:
        _together[group].set()
    try:
        await asyncio.wait_for(_together[group].wait(), timeout=5)
    except TimeoutError:
        raise PermanentFailure(f"only {_arrived[group]} of {n} jobs of {group} ran at once") from None


async def effect_runs(session: AsyncSession, row_ids: list[int]) -> dict[int, int]:
    rows = await session.execute(
        select(effects.c.row_id, effects.c.runs).where(effects.c.row_id.in_(row_ids))
    )
    return {int(r): int(n) for r, n in rows}


async def trace_of(session: AsyncSession, row_ids: list[int]) -> list[tuple[int, str | None, str]]:
    rows = await session.execute(
        select(trace.c.row_id, trace.c.key, trace.c.mark)
        .where(trace.c.row_id.in_(row_ids))
        .order_by(trace.c.seq)
    )
    return [(int(r), k, m) for r, k, m in rows]


# Jobs of "test.block" hold until `unblocked` is set (or they are cancelled): a runner stopping mid-job.
running_blocked: set[int] = set()
unblocked = asyncio.Event()


@job("test.block", max_tries=3, timeout=60)
async def block(ctx: JobContext) -> None:
    running_blocked.add(ctx.job_id)
    try:
        await unblocked.wait()
    finally:
        running_blocked.discard(ctx.job_id)
    async with ctx.runtime.sessions() as session, session.begin():
        await record_effect(session, ctx.job_id, "block")
