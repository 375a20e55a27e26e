"""Stopping the embedded runner is prompt: running jobs are cancelled and their rows given back."""

from __future__ import annotations

from sqlalchemy import delete, select

from conduit.db.models import OutboxRow, OutboxState
from conduit.jobs import outbox
from conduit.jobs.config import JobsSettings
from conduit.jobs.embedded import EmbeddedPool
from conduit.jobs.service import start_jobs
from conduit.runtime import Runtime
from tests.jobs import kinds
from tests.jobs.conftest import Harness, wait_for


async def write_blocking(runtime: Runtime, n: int) -> list[int]:
    async with runtime.sessions() as session:
        rows = [outbox.enqueue(session, "test.block") for _ in range(n)]
        await session.commit()
    return [r.id for r in rows]


async def test_stop_cancels_running_jobs_and_the_next_start_runs_them(
    runtime: Runtime, jobs_settings: JobsSettings, effect_tables: None
) -> None:
    kinds.unblocked.clear()
    # More rows than the pool runs at once: some are running when it stops, the rest still queued.
    ids = await write_blocking(runtime, jobs_settings.concurrency + 10)
    try:
        service = await start_jobs(runtime, jobs_settings)
        pool = service.transport
        assert isinstance(pool, EmbeddedPool)

        async def pool_is_full() -> bool:
            return len(kinds.running_blocked & set(ids)) == jobs_settings.concurrency

        await wait_for(pool_is_full, 30, "the pool to be busy with blocking jobs")
        # The jobs never end by themselves: stop returns only because it cancels them.
        await service.stop()
        assert not kinds.running_blocked & set(ids)
        async with runtime.sessions() as session:
            rows = (await session.execute(select(OutboxRow).where(OutboxRow.id.in_(ids)))).scalars().all()
        # Interrupted runs were handed back as if never started; queued ones were released.
        assert {r.state for r in rows} == {OutboxState.PENDING}
        assert {r.attempts for r in rows} == {0}
        async with runtime.sessions() as session:
            assert await kinds.effect_runs(session, ids) == {}

        kinds.unblocked.set()
        service = await start_jobs(runtime, jobs_settings)
        try:
            states = await Harness(runtime, "embedded").wait_finished(ids)
        finally:
            await service.stop()
        assert set(states.values()) == {OutboxState.DONE}
        async with runtime.sessions() as session:
            assert await kinds.effect_runs(session, ids) == dict.fromkeys(ids, 1)
    finally:
        kinds.unblocked.set()
        async with runtime.sessions() as session, session.begin():
            # Never leave blocking rows behind for another test's runner.
            await session.execute(
                delete(OutboxRow).where(OutboxRow.id.in_(ids), OutboxRow.state != OutboxState.DONE)
            )
