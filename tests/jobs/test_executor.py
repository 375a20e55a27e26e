"""The guards in the shared code path, below any runner: one run per hand-over, leases, schedules."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from conduit.db.base import utcnow
from conduit.db.models import OutboxRow, OutboxState
from conduit.db.models.outbox import JobSchedule
from conduit.jobs import claims, outbox
from conduit.jobs.config import JobsSettings
from conduit.jobs.executor import Executor
from conduit.jobs.maintenance import prune_done
from conduit.jobs.periodic import schedule_due
from conduit.jobs.registry import JobSpec, PeriodicSpec, Registry, load, registry
from conduit.jobs.sweeper import sweep
from conduit.runtime import Runtime
from tests.jobs import kinds
from tests.jobs.conftest import Harness


class NoQueue:
    def __init__(self) -> None:
        self.forgotten: list[int] = []

    async def hand(self, ids: Sequence[int]) -> None:
        raise AssertionError("not used")

    async def forget(self, ids: Sequence[int]) -> None:
        self.forgotten += ids

    async def close(self) -> None:
        return None


async def queued_row(runtime: Runtime, kind: str = "test.record", *args: object) -> int:
    async with runtime.sessions() as session:
        row = outbox.enqueue(session, kind, *args)  # type: ignore[arg-type]
        await session.commit()
        await session.execute(
            update(OutboxRow).where(OutboxRow.id == row.id).values(state=OutboxState.QUEUED)
        )
        await session.commit()
        return row.id


async def test_the_same_row_handed_over_twice_runs_once(
    runtime: Runtime, jobs_settings: JobsSettings, effect_tables: None
) -> None:
    load(jobs_settings.modules)
    executor = Executor(runtime, jobs_settings, registry)
    row_id = await queued_row(runtime, "test.record", "double", 0.05)
    outcomes = await asyncio.gather(executor.run(row_id), executor.run(row_id))
    assert sorted(outcomes, key=str) == [None, OutboxState.DONE]
    async with runtime.sessions() as session:
        assert await kinds.effect_runs(session, [row_id]) == {row_id: 1}


async def test_a_lost_run_cannot_record_over_a_newer_one(
    runtime: Runtime, jobs_settings: JobsSettings, effect_tables: None
) -> None:
    row_id = await queued_row(runtime)
    async with runtime.sessions() as session, session.begin():
        run = await claims.start_run(session, row_id, utcnow(), {}, timedelta(seconds=-1))
    assert run is not None
    transport = NoQueue()
    assert await sweep(runtime, transport) >= 1  # its lease is already over
    assert row_id in transport.forgotten
    async with runtime.sessions() as session, session.begin():
        assert await claims.claim_due(session, utcnow(), 1000, timedelta(seconds=60))
        again = await claims.start_run(session, row_id, utcnow(), {}, timedelta(seconds=60))
    assert again is not None and again.attempt == run.attempt + 1
    async with runtime.sessions() as session, session.begin():
        assert not await claims.finish(session, run, {"state": OutboxState.DONE})
        assert await claims.finish(session, again, {"state": OutboxState.DONE})


async def test_periodic_job_is_scheduled_once_per_interval(runtime: Runtime) -> None:
    spec = PeriodicSpec(name=f"test.periodic.{utcnow().timestamp()}", kind="test.record", every=60)
    now = utcnow()

    async def attempt() -> bool:
        async with runtime.sessions() as session, session.begin():
            return await schedule_due(session, spec, now)

    # Several processes ticking at the same moment: one of them writes the run.
    results = [await attempt() for _ in range(3)]
    assert results == [True, False, False]
    async with runtime.sessions() as session, session.begin():
        assert await schedule_due(session, spec, now + timedelta(seconds=61))
        rows = await session.scalar(select(func.count()).where(OutboxRow.key == f"periodic:{spec.name}"))
        assert rows == 2
        assert (await session.get(JobSchedule, spec.name)) is not None


async def test_prune_deletes_only_old_finished_rows(runtime: Runtime, jobs_settings: JobsSettings) -> None:
    old = utcnow() - timedelta(days=8)
    async with runtime.sessions() as session:
        rows = {
            name: outbox.add(session, "test.record", {}, run_after=old)
            for name in ("old_done", "new_done", "old_dead", "pending")
        }
        await session.flush()
        for name, state, finished in (
            ("old_done", OutboxState.DONE, old),
            ("new_done", OutboxState.DONE, utcnow()),
            ("old_dead", OutboxState.DEAD, old),
        ):
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == rows[name].id)
                .values(state=state, finished_at=finished)
            )
        await session.commit()
    ctx = Harness(runtime, "embedded")
    from conduit.jobs.context import JobContext, job_log

    job_ctx = JobContext(runtime, jobs_settings, 0, "jobs.prune", 1, {}, None, None, job_log(0, "jobs.prune"))
    assert await prune_done(job_ctx, timedelta(days=7)) >= 1
    async with runtime.sessions() as session:
        left = set(
            await session.scalars(select(OutboxRow.id).where(OutboxRow.id.in_([r.id for r in rows.values()])))
        )
    assert left == {rows["new_done"].id, rows["old_dead"].id, rows["pending"].id}
    assert ctx.runner == "embedded"


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    async def noop(ctx: object) -> None:
        return None

    spec = JobSpec("x", noop, backoff_base=1.0, backoff_cap=10.0)
    for tries, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (30, 10.0)):
        delays = [spec.backoff(tries) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_registry_rejects_bad_policies() -> None:
    reg = Registry()

    async def fn(ctx: object) -> None:
        return None

    with pytest.raises(ValueError, match="max_tries"):
        reg.add(JobSpec("a", fn, max_tries=0))
    reg.add(JobSpec("b", fn))

    async def other(ctx: object) -> None:
        return None

    with pytest.raises(ValueError, match="already registered"):
        reg.add(JobSpec("b", other))
    with pytest.raises(ValueError, match="interval"):
        reg.periodic("p", "b", 0)
