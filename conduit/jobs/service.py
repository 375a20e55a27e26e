"""Assembling the background parts of one process: dispatcher, sweeper, scheduler, and a runner.

embedded (no Redis)    dispatcher -> EmbeddedPool -> Executor          in `conduit serve`
distributed, API       dispatcher -> RedisQueue                        in `conduit serve`
distributed, worker    dispatcher -> RedisQueue;  arq -> Executor      in `conduit worker`
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from sqlalchemy import update

from conduit.db.models import OutboxRow
from conduit.db.models.outbox import LEASED, OutboxState
from conduit.jobs.config import JobsSettings
from conduit.jobs.dispatcher import Dispatcher
from conduit.jobs.embedded import EmbeddedPool
from conduit.jobs.executor import STOP_SECONDS, Executor
from conduit.jobs.maintenance import PRUNE_KIND
from conduit.jobs.periodic import run_scheduler
from conduit.jobs.redis_queue import RedisQueue
from conduit.jobs.registry import Registry, load, registry
from conduit.jobs.sweeper import run_sweeper
from conduit.jobs.transport import Transport
from conduit.jobs.writes import DatabaseUnavailable, Writer, patiently
from conduit.runtime import Resource, Runtime

log = logging.getLogger("conduit.jobs")
RECLAIM_PATIENCE_SECONDS = 15.0


class JobService:
    def __init__(
        self,
        runtime: Runtime,
        settings: JobsSettings,
        transport: Transport,
        jobs: Registry = registry,
        writer: Writer | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.transport = transport
        self.registry = jobs
        self.writer = writer or Writer(runtime, dedicated=True)
        self.dispatcher = Dispatcher(runtime, settings, transport, self.writer)
        self._tasks: list[asyncio.Task[None]] = []

    def executor(self, resources: dict[str, Any] | None = None) -> Executor:
        # Settling a row may free the next row of its key, or schedule a retry: look again at once.
        return Executor(
            self.runtime,
            self.settings,
            self.registry,
            resources=resources,
            on_settled=self.dispatcher.wake,
            writer=self.writer,
        )

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def start(self) -> None:
        self.registry.periodic(PRUNE_KIND, PRUNE_KIND, self.settings.prune_interval_seconds)
        self._spawn(self.dispatcher.run(), "conduit-dispatcher")
        self._spawn(
            run_sweeper(self.runtime, self.settings, self.transport, self.dispatcher.wake), "conduit-sweeper"
        )
        self._spawn(run_scheduler(self.runtime, self.registry), "conduit-scheduler")

    async def stop_background(self) -> None:
        """Cancel the dispatcher, sweeper and scheduler; bounded, so stopping never outlives its host's
        patience (a task caught mid-write gets STOP_SECONDS to finish; what it held, the sweeper hands on)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, stuck = await asyncio.wait(tasks, timeout=STOP_SECONDS + 1)
        if stuck:
            log.warning("background tasks ignored cancellation: %s", ", ".join(t.get_name() for t in stuck))

    async def stop(self) -> None:
        """Stop dispatching first, then the runner (promptly: see EmbeddedPool.close)."""
        self.runtime.release(JOBS, self)
        try:
            await self.stop_background()
            await self.transport.close()
        finally:
            await self.writer.close()


# One job service per runtime, even when several apps share it; a runtime that closes stops it.
JOBS: Resource[JobService] = Resource("the job service", close=JobService.stop)


async def _reclaim_all(writer: Writer) -> None:
    """SQLite means one embedded process: whatever was leased before it started died with its runner."""

    async def reclaim() -> None:
        async with writer.statements() as conn:
            await conn.execute(
                update(OutboxRow)
                .where(OutboxRow.state.in_(LEASED))
                .values(state=OutboxState.PENDING, lease_expires_at=None)
            )

    try:
        # A server stopping on the same file a moment ago may still hold the write lock.
        await patiently(reclaim, RECLAIM_PATIENCE_SECONDS)
    except DatabaseUnavailable as exc:
        # Not fatal: the sweeper brings these rows back once their leases run out.
        log.warning("could not reclaim leased jobs at start: %s", exc)


async def start_jobs(runtime: Runtime, settings: JobsSettings | None = None) -> JobService:
    """Start this API process's share of the job system: embedded without Redis, dispatch-only with it."""
    settings = settings or JobsSettings()
    load(settings.modules)
    if runtime.settings.redis_url:
        queue = RedisQueue.from_url(runtime.settings.redis_url, settings.queue_name)
        service = JobService(runtime, settings, queue)
        log.info("jobs: handing over to Redis, queue %s", settings.queue_name)
    else:
        writer = Writer(runtime, dedicated=True)
        if runtime.settings.is_sqlite:
            await _reclaim_all(writer)
        pool = EmbeddedPool(writer, settings.concurrency)
        service = JobService(runtime, settings, pool, writer=writer)
        pool.start(service.executor())
        log.info("jobs: running embedded, %d at a time", settings.concurrency)
    runtime.provide(JOBS, service)
    await service.start()
    return service
