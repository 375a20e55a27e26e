"""Fixtures for the job tests: a private Redis database, fast leases, and a running job system."""

from __future__ import annotations

import asyncio
import contextlib
import io
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from arq.constants import job_key_prefix
from arq.jobs import deserialize_job
from redis.asyncio import Redis
from sqlalchemy import select

import conduit.wiring  # noqa: F401 - the job kinds an entry point registers (events.publish, ...)
from conduit.db.models import OutboxRow, OutboxState
from conduit.jobs.config import JobsSettings
from conduit.jobs.service import JobService, start_jobs
from conduit.jobs.worker import SERVICE, build_worker
from conduit.runtime import Runtime
from tests.jobs import kinds

REDIS_BASE = "redis://127.0.0.1:6379"
CLAIM_KEY = "conduit:test-db-claim"
TEST_MODULES = ["tests.jobs.kinds"]
FINISHED = (OutboxState.DONE, OutboxState.DEAD)


async def wait_for(condition: Callable[[], Awaitable[bool]], within: float = 30.0, what: str = "") -> None:
    """Poll a real condition until it holds; fail with `what` when the deadline passes."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what or condition}")
        await asyncio.sleep(0.05)


async def rows_in_redis(redis: Redis, queue_name: str) -> list[int]:
    """The outbox row ids the arq jobs queued in Redis carry (one arq job carries several rows)."""
    rows: list[int] = []
    for job_id in await redis.zrange(queue_name, 0, -1):
        body = await redis.get(job_key_prefix + job_id.decode())
        if body is not None:
            carried = deserialize_job(body).args[0]
            rows += carried if isinstance(carried, list) else [carried]
    return rows


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    """A Redis database number no other test run holds, claimed with a lock key and flushed after."""
    token = secrets.token_hex(8)
    for db in range(1, 16):
        client: Redis = Redis.from_url(f"{REDIS_BASE}/{db}")
        try:
            await client.ping()
        except OSError:
            await client.aclose()
            pytest.skip("Redis not reachable")
        if await client.set(CLAIM_KEY, token, nx=True, ex=3600):
            await client.flushdb()
            await client.set(CLAIM_KEY, token, ex=3600)
            try:
                yield f"{REDIS_BASE}/{db}"
            finally:
                await client.flushdb()
                await client.aclose()
            return
        await client.aclose()
    pytest.skip("no free Redis database for this test run")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url)
    claim = await client.get(CLAIM_KEY)
    await client.flushdb()  # each test starts with an empty queue
    assert claim is not None
    await client.set(CLAIM_KEY, claim, ex=3600)
    yield client
    await client.aclose()


@pytest.fixture
def jobs_settings() -> JobsSettings:
    return JobsSettings(
        modules=TEST_MODULES,
        concurrency=20,
        handover_lease_seconds=2,
        lease_grace_seconds=1,
        poll_interval_seconds=0.2,
        sweep_interval_seconds=0.3,
        queue_name=f"conduit:test:{secrets.token_hex(4)}",
    )


@pytest.fixture(scope="session")
async def effect_tables(runtime: Runtime) -> None:
    await kinds.create_tables(runtime.engine)


@dataclass
class Harness:
    """A running job system over the test database, whichever runner it uses."""

    runtime: Runtime  # the API side: where rows are written and the dispatcher hands them over
    runner: str

    async def states(self, ids: Sequence[int]) -> dict[int, OutboxState]:
        async with self.runtime.sessions() as session:
            rows = await session.execute(select(OutboxRow.id, OutboxRow.state).where(OutboxRow.id.in_(ids)))
            return {int(i): OutboxState(s) for i, s in rows}

    async def wait_finished(self, ids: Sequence[int], within: float = 30.0) -> dict[int, OutboxState]:
        async def finished() -> bool:
            return all(s in FINISHED for s in (await self.states(ids)).values())

        await wait_for(finished, within, f"{len(ids)} jobs to finish")
        return await self.states(ids)

    async def row(self, row_id: int) -> OutboxRow:
        async with self.runtime.sessions() as session:
            row = await session.get(OutboxRow, row_id)
            assert row is not None
            return row


# Stopping waits for the jobs it cancels; far more than any of them needs to record its outcome.
WORKER_STOP_PATIENCE = 20.0


def _report_stuck(what: str) -> None:
    """Print every unfinished task's stack, so a stop that hangs says where, instead of hanging CI."""
    out = io.StringIO()
    for stuck in asyncio.all_tasks():
        if not stuck.done():
            stuck.print_stack(file=out)
    print(f"{what}; unfinished tasks:\n{out.getvalue()}", file=sys.stderr)


async def _force_stop(worker: Any) -> None:
    for job in worker.tasks.values():
        job.cancel()
    service = worker.ctx.get(SERVICE)
    with contextlib.suppress(Exception):
        async with asyncio.timeout(10):
            if service is not None:
                await service.stop_background()
                await service.writer.close()
                await service.runtime.close()
            if worker._pool is not None:
                await worker.pool.close(close_connection_pool=True)
                worker._pool = None


@contextlib.asynccontextmanager
async def arq_worker(runtime: Runtime, settings: JobsSettings) -> AsyncIterator[Any]:
    """An arq worker in this process (no signal handlers), stopped and closed on exit."""
    worker = build_worker(runtime.settings, settings, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        try:
            async with asyncio.timeout(WORKER_STOP_PATIENCE):
                # What `worker.close()` does, except that a job cancelled before it began (a delivery
                # claimed in the instant of stopping) ends the gather with its CancelledError there,
                # skipping the shutdown hook and leaking what the worker holds.
                worker.handle_sig(signal.SIGUSR1)
                await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
                worker.tasks.clear()
                await worker.close()
        except TimeoutError:
            # Say where it hung, then stop it by force so the rest of the suite runs (and a leak of
            # what it held still fails it, as ResourceWarnings).
            _report_stuck("the arq worker did not stop")
            await _force_stop(worker)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def api_side(runtime: Runtime, settings: JobsSettings) -> AsyncIterator[JobService]:
    service = await start_jobs(runtime, settings)
    try:
        yield service
    finally:
        try:
            async with asyncio.timeout(WORKER_STOP_PATIENCE):
                await service.stop()
        except TimeoutError:
            # Say where it hung and let the suite go on; the stacks are in the output to act on.
            _report_stuck("the job service did not stop")


def distributed_runtime(runtime: Runtime, redis_url: str) -> Runtime:
    return Runtime.create(runtime.settings.model_copy(update={"redis_url": redis_url}))


@pytest.fixture(params=["embedded", "arq"])
async def harness(
    request: pytest.FixtureRequest,
    runtime: Runtime,
    jobs_settings: JobsSettings,
    effect_tables: None,
    redis_url: str,
    redis: Redis,
) -> AsyncIterator[Harness]:
    """The behavioural tests run against both runners: embedded (SQLite, PostgreSQL) and arq (PostgreSQL)."""
    if request.param == "embedded":
        async with api_side(runtime, jobs_settings):
            yield Harness(runtime, "embedded")
        return
    if runtime.settings.is_sqlite:
        pytest.skip("arq workers run against PostgreSQL; SQLite is the single-process embedded mode")
    rt = distributed_runtime(runtime, redis_url)
    try:
        async with api_side(rt, jobs_settings), arq_worker(rt, jobs_settings):
            yield Harness(rt, "arq")
    finally:
        await rt.close()


class TcpProxy:
    """A loopback port that forwards to Redis only while `open`: Redis "going away" and "coming back"."""

    def __init__(self, port: int, target_port: int = 6379) -> None:
        self.port = port
        self.target_port = target_port
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for task in (self._pipe(reader, up_writer), self._pipe(up_reader, writer)):
            t = asyncio.create_task(task)
            self._pipes.add(t)
            t.add_done_callback(self._pipes.discard)

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for t in list(self._pipes):
            t.cancel()
