"""No-op jobs per second: Conduit's outbox + arq path against bare arq, on the same Redis, in one run.

    .venv/bin/python bench/jobs.py [--jobs 2000] [--producers 20]

Needs PostgreSQL (CONDUIT_BENCH_PG_DSN, default the test server; a scratch database is created and
dropped) and Redis (CONDUIT_BENCH_REDIS_URL, default db 15 on localhost, flushed before and after).
Both sides: `producers` tasks create the jobs concurrently while one in-process arq worker with the
same concurrency and poll delay runs them; the clock runs from the first job created to the last done.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from arq.connections import RedisSettings, create_pool
from arq.worker import Worker, func
from redis.asyncio import Redis
from sqlalchemy import func as sql_func
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import PG_DSN, REDIS_URL, database

from conduit.db.models import OutboxRow, OutboxState
from conduit.jobs import outbox
from conduit.jobs.config import JobsSettings
from conduit.jobs.context import JobContext
from conduit.jobs.registry import job
from conduit.jobs.service import start_jobs
from conduit.jobs.worker import build_worker
from conduit.runtime import Runtime
from conduit.settings import Settings

CONCURRENCY = int(os.environ.get("CONDUIT_BENCH_CONCURRENCY", "20"))


class Progress:
    """Counts runs in this process, so waiting for the end adds no queries to the path measured."""

    def __init__(self) -> None:
        self.target = 0
        self.done = 0
        self.finished = asyncio.Event()

    def tick(self) -> None:
        self.done += 1
        if self.done >= self.target:
            self.finished.set()


progress = Progress()


@job("bench.noop", max_tries=1, timeout=10)
async def noop(ctx: JobContext) -> None:
    progress.tick()


async def bare_noop(ctx: dict[str, Any]) -> None:
    return None


async def stop(worker: Worker, run: asyncio.Task[Any]) -> None:
    """Close once the last jobs' own bookkeeping is over: closing cancels whatever is still in flight."""
    in_flight = [t for t in worker.tasks.values() if not t.done()]
    if in_flight:
        await asyncio.wait(in_flight)
    await worker.close()
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run


def split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


async def bench_bare(n: int, producers: int) -> float:
    done = 0
    finished = asyncio.Event()

    async def counted(ctx: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        if done == n:
            finished.set()

    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    worker = Worker(
        [func(counted, name="noop")],
        redis_settings=RedisSettings.from_dsn(REDIS_URL),
        queue_name="bench:bare",
        handle_signals=False,
        max_jobs=CONCURRENCY,
        keep_result=0,
        poll_delay=0.05,
        log_results=False,
    )

    async def produce(count: int) -> None:
        for _ in range(count):
            await pool.enqueue_job("noop", _queue_name="bench:bare")

    start = time.perf_counter()
    run = asyncio.create_task(worker.async_run())
    await asyncio.gather(*(produce(c) for c in split(n, producers)))
    await finished.wait()
    elapsed = time.perf_counter() - start
    await stop(worker, run)
    await pool.aclose()
    return n / elapsed


async def bench_outbox(runtime: Runtime, n: int, producers: int) -> float:
    settings = JobsSettings(concurrency=CONCURRENCY, queue_name="bench:outbox")

    async def produce(count: int) -> None:
        for _ in range(count):
            async with runtime.sessions() as session:
                outbox.add(session, "bench.noop", {})
                await session.commit()

    async def all_done() -> bool:
        async with runtime.sessions() as session:
            left = await session.scalar(
                select(sql_func.count()).where(
                    OutboxRow.kind == "bench.noop", OutboxRow.state != OutboxState.DONE
                )
            )
            total = await session.scalar(select(sql_func.count()).where(OutboxRow.kind == "bench.noop"))
        return left == 0 and total == n

    progress.target = n
    api = await start_jobs(runtime, settings)
    worker = build_worker(runtime.settings, settings, handle_signals=False)
    start = time.perf_counter()
    run = asyncio.create_task(worker.async_run())
    await asyncio.gather(*(produce(c) for c in split(n, producers)))
    if os.environ.get("CONDUIT_BENCH_VERBOSE"):
        print(f"outbox: rows written after {time.perf_counter() - start:.2f}s, {progress.done} run")
    await progress.finished.wait()
    # The last outcomes are written in the background; the clock stops when they are recorded.
    while True:
        if await all_done():
            break
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    await stop(worker, run)
    await api.stop()
    return n / elapsed


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--producers", type=int, default=20)
    parser.add_argument(
        "--only", choices=("bare", "outbox"), help="run one side alone (for profiling); no ratio"
    )
    args = parser.parse_args()

    redis: Redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    try:
        async with database("postgresql", Path(tempfile.mkdtemp()), PG_DSN) as url:
            settings = Settings(
                env="test",
                database_url=url,
                redis_url=REDIS_URL,
                data_dir=Path(tempfile.mkdtemp()),
                secret_key="bench-" + secrets.token_hex(32),
            )
            runtime = Runtime.create(settings)
            try:
                bare = await bench_bare(args.jobs, args.producers) if args.only != "outbox" else 0.0
                await redis.flushdb()
                through_outbox = (
                    await bench_outbox(runtime, args.jobs, args.producers) if args.only != "bare" else 0.0
                )
            finally:
                await runtime.close()
    finally:
        await redis.flushdb()
        await redis.aclose()

    print(f"jobs: {args.jobs}, producers: {args.producers}, worker concurrency: {CONCURRENCY}")
    print(f"bare arq (enqueue + execute):        {bare:8.0f} jobs/s")
    print(f"outbox + arq (commit, dispatch, run): {through_outbox:8.0f} jobs/s")
    if bare and through_outbox:
        print(f"ratio outbox/bare: {through_outbox / bare:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
