"""Nothing lost: a killed worker, a flushed Redis, Redis down at commit, PostgreSQL connections dropped.

These need the distributed runtime, so they run on PostgreSQL with Redis.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from conduit.db.models import OutboxState
from conduit.jobs import outbox
from conduit.jobs.config import JobsSettings
from conduit.jobs.redis_queue import RedisQueue
from conduit.runtime import Runtime
from tests.conftest import PG_ADMIN_DSN, ConduitProcesses, free_port
from tests.jobs import kinds
from tests.jobs.conftest import (
    CLAIM_KEY,
    Harness,
    TcpProxy,
    api_side,
    arq_worker,
    distributed_runtime,
    rows_in_redis,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def rt(runtime: Runtime, redis_url: str, redis: Redis, effect_tables: None) -> AsyncIterator[Runtime]:
    if runtime.settings.is_sqlite:
        pytest.skip("the distributed runtime runs on PostgreSQL")
    distributed = distributed_runtime(runtime, redis_url)
    yield distributed
    await distributed.close()


async def write_records(runtime: Runtime, n: int, pause: float = 0.0) -> list[int]:
    async with runtime.sessions() as session:
        rows = [outbox.enqueue(session, "test.record", "resilience", pause) for _ in range(n)]
        await session.commit()
    return [r.id for r in rows]


async def effects_count(runtime: Runtime, ids: list[int]) -> int:
    async with runtime.sessions() as session:
        return len(await kinds.effect_runs(session, ids))


async def assert_all_done_once_at_least(runtime: Runtime, ids: list[int]) -> None:
    harness = Harness(runtime, "arq")
    states = await harness.wait_finished(ids, within=60)
    assert set(states.values()) == {OutboxState.DONE}
    async with runtime.sessions() as session:
        assert set(await kinds.effect_runs(session, ids)) == set(ids)


def worker_env(runtime: Runtime, settings: JobsSettings, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CONDUIT_ENV="test",
        CONDUIT_DATABASE_URL=runtime.settings.database_url,
        CONDUIT_REDIS_URL=str(runtime.settings.redis_url),
        CONDUIT_SECRET_KEY=str(runtime.settings.secret_key),
        CONDUIT_DATA_DIR=str(tmp_path),
        CONDUIT_JOBS_MODULES=json.dumps(settings.modules),
        CONDUIT_JOBS_QUEUE_NAME=settings.queue_name,
        CONDUIT_JOBS_HANDOVER_LEASE_SECONDS=str(settings.handover_lease_seconds),
        CONDUIT_JOBS_LEASE_GRACE_SECONDS=str(settings.lease_grace_seconds),
        CONDUIT_JOBS_POLL_INTERVAL_SECONDS=str(settings.poll_interval_seconds),
        CONDUIT_JOBS_SWEEP_INTERVAL_SECONDS=str(settings.sweep_interval_seconds),
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def spawn_worker(
    rt: Runtime, jobs_settings: JobsSettings, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    procs = ConduitProcesses(tmp_path)
    yield lambda: procs.start(["worker"], worker_env(rt, jobs_settings, tmp_path), name="worker")
    procs.stop_all()


async def test_worker_killed_mid_run_loses_nothing(
    rt: Runtime, jobs_settings: JobsSettings, spawn_worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    async with api_side(rt, jobs_settings):
        first = spawn_worker()
        ids = await write_records(rt, 1000, pause=0.01)

        async def some_done() -> bool:
            return await effects_count(rt, ids) >= 150

        await wait_for(some_done, 60, "the first worker to get going")
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert await effects_count(rt, ids) < len(ids), "the worker finished before it could be killed"
        spawn_worker()
        await assert_all_done_once_at_least(rt, ids)


async def test_redis_flushed_while_jobs_are_queued(
    rt: Runtime, jobs_settings: JobsSettings, redis: Redis
) -> None:
    async with api_side(rt, jobs_settings):
        ids = await write_records(rt, 200)

        async def all_handed_over() -> bool:
            # Only this test's rows: rows left retrying by earlier tests may share the queue.
            return set(ids) <= set(await rows_in_redis(redis, jobs_settings.queue_name))

        await wait_for(all_handed_over, 30, "the rows to reach Redis")
        claim = await redis.get(CLAIM_KEY)
        # FLUSHDB rather than FLUSHALL: the same loss for this run, without wiping parallel runs' data.
        await redis.flushdb()
        await redis.set(CLAIM_KEY, claim or b"", ex=3600)
        async with arq_worker(rt, jobs_settings):
            await assert_all_done_once_at_least(rt, ids)


async def test_redis_down_at_commit_then_back(
    runtime: Runtime, rt: Runtime, jobs_settings: JobsSettings, redis_url: str
) -> None:
    port = free_port()
    db = make_url(redis_url).database or "0"
    api = distributed_runtime(runtime, f"redis://127.0.0.1:{port}/{db}")
    proxy = TcpProxy(port)
    try:
        async with api_side(api, jobs_settings) as service, arq_worker(rt, jobs_settings):
            ids = await write_records(api, 20)  # the commit itself does not touch Redis

            async def handover_failed() -> bool:
                return service.dispatcher.failing

            await wait_for(handover_failed, 10, "the dispatcher to find Redis down")
            states = await Harness(api, "arq").states(ids)
            # Nothing ran; each poll claims the rows and gives them back when the hand-over fails, so a
            # read may land between the two and see them QUEUED.
            assert set(states.values()) <= {OutboxState.PENDING, OutboxState.QUEUED}
            await proxy.open()
            await assert_all_done_once_at_least(api, ids)
    finally:
        await proxy.close()
        await api.close()


async def test_worker_recovers_when_postgres_drops_its_connections(
    rt: Runtime, jobs_settings: JobsSettings
) -> None:
    name = make_url(rt.settings.database_url).database
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        async with api_side(rt, jobs_settings), arq_worker(rt, jobs_settings):
            ids = await write_records(rt, 300, pause=0.01)
            for threshold in (60, 150):

                async def progressed(at_least: int = threshold) -> bool:
                    return await effects_count(rt, ids) >= at_least

                await wait_for(progressed, 60, f"{threshold} jobs done")
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
                assert killed > 0
            await assert_all_done_once_at_least(rt, ids)
    finally:
        await admin.close()


async def test_double_handover_runs_once(rt: Runtime, jobs_settings: JobsSettings, redis: Redis) -> None:
    queue = RedisQueue(redis, jobs_settings.queue_name)  # type: ignore[arg-type]
    async with api_side(rt, jobs_settings):
        ids = await write_records(rt, 1)

        async def handed_over() -> bool:
            return await rows_in_redis(redis, jobs_settings.queue_name) == ids

        await wait_for(handed_over, 10, "the row to reach Redis")
        await queue.hand(ids)  # what a sweeper racing the dispatcher would do
        # Redis now holds two jobs for the row: only the database can keep them apart.
        assert await rows_in_redis(redis, jobs_settings.queue_name) == ids * 2
        async with arq_worker(rt, jobs_settings):
            await assert_all_done_once_at_least(rt, ids)

            async def both_jobs_over() -> bool:
                return await redis.zcard(jobs_settings.queue_name) == 0

            await wait_for(both_jobs_over, 10, "both arq jobs to finish")
    async with rt.sessions() as session:
        assert await kinds.effect_runs(session, ids) == {ids[0]: 1}
