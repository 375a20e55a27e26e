"""`conduit worker`: an arq worker running outbox rows, plus this process's dispatcher and sweeper."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from arq import Retry as ArqRetry
from arq.connections import RedisSettings
from arq.worker import Worker, func

from conduit.jobs.config import JobsSettings
from conduit.jobs.executor import DatabaseUnavailable, Executor
from conduit.jobs.redis_queue import RUN_FUNCTION, RedisQueue
from conduit.jobs.registry import Registry, load, registry
from conduit.jobs.service import JOBS, JobService
from conduit.runtime import Runtime
from conduit.settings import Settings
from conduit.tracing import install as install_tracing

log = logging.getLogger("conduit.jobs.worker")
EXECUTOR = "conduit_executor"
SERVICE = "conduit_service"
SLOTS = "conduit_slots"
# Retries are the outbox's business; arq only re-runs a row whose start could not reach the database.
ARQ_MAX_TRIES = 1000
DB_DOWN_RETRY_SECONDS = 5


async def run_rows(ctx: dict[str, Any], rows: int | list[int]) -> None:
    """Run the rows one arq job carries, side by side, at most `concurrency` rows per process.

    If the database is away, arq runs the whole job again later: rows that did start meanwhile
    are no longer QUEUED, so only the others run then.
    """
    executor: Executor = ctx[EXECUTOR]
    slots: asyncio.Semaphore = ctx[SLOTS]
    ids = [int(rows)] if isinstance(rows, int) else [int(r) for r in rows]

    async def one(row_id: int) -> None:
        async with slots:
            await executor.run(row_id)

    outcomes = await asyncio.gather(*(one(i) for i in ids), return_exceptions=True)
    errors = [e for e in outcomes if isinstance(e, BaseException)]
    waiting = [e for e in errors if isinstance(e, DatabaseUnavailable)]
    if waiting:
        log.warning("jobs=%s waiting for the database: %s", ids, waiting[0])
        raise ArqRetry(defer=DB_DOWN_RETRY_SECONDS) from waiting[0]
    if errors:
        raise errors[0]


def build_worker(
    settings: Settings,
    jobs_settings: JobsSettings | None = None,
    *,
    burst: bool = False,
    handle_signals: bool = True,
    jobs: Registry = registry,
) -> Worker:
    """An arq Worker whose startup builds the Runtime and this process's dispatcher and sweeper."""
    if not settings.redis_url:
        raise ValueError("a worker needs CONDUIT_REDIS_URL; without Redis, jobs run inside `conduit serve`")
    js = jobs_settings or JobsSettings()
    load(js.modules)
    # arq's own timeout is only a backstop: the executor enforces each kind's timeout first.
    backstop = jobs.max_timeout + js.lease_grace_seconds + 60

    async def on_startup(ctx: dict[str, Any]) -> None:
        runtime = Runtime.create(settings)
        install_tracing(runtime.engine)
        service = JobService(runtime, js, RedisQueue(ctx["redis"], js.queue_name), jobs)
        ctx[SERVICE] = service
        ctx[EXECUTOR] = service.executor(resources={"redis": ctx["redis"]})
        ctx[SLOTS] = asyncio.Semaphore(js.concurrency)
        runtime.provide(JOBS, service)
        if burst:
            await service.dispatcher.dispatch_all()
        await service.start()

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        service: JobService | None = ctx.get(SERVICE)
        executor: Executor | None = ctx.get(EXECUTOR)
        if service is not None:
            await service.stop_background()
            if executor is not None:
                await executor.close()
            await service.writer.close()
            await service.runtime.close()

    return Worker(
        functions=[func(run_rows, name=RUN_FUNCTION, timeout=backstop, max_tries=ARQ_MAX_TRIES)],
        queue_name=js.queue_name,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        burst=burst,
        handle_signals=handle_signals,
        max_jobs=js.concurrency,
        keep_result=0,  # a kept result would make arq refuse the same id when the row is retried
        poll_delay=0.05,
        log_results=False,
    )


def run_worker(settings: Settings, burst: bool = False) -> int:
    try:
        worker = build_worker(settings, burst=burst)
    except ValueError as exc:
        print(f"conduit worker: {exc}", file=sys.stderr)
        return 2
    worker.run()
    return 0
