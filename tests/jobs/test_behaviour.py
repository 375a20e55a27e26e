"""Behaviour every runner must show: runs once, retries, dies with a reason, replays, keeps key order."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from conduit.db.base import utcnow
from conduit.db.models import OutboxRow, OutboxState
from conduit.events.emit import emit
from conduit.jobs import admin, outbox
from tests.conftest import Tenant
from tests.jobs import kinds
from tests.jobs.conftest import Harness


async def test_jobs_run_once_each(harness: Harness, tenant: Tenant) -> None:
    async with harness.runtime.sessions() as session:
        rows = [
            outbox.enqueue(session, "test.record", "batch", organization_id=tenant.organization_id)
            for _ in range(50)
        ]
        event = emit(session, "issue.created", tenant.organization_id, {"issue": {"id": 1}})
        await session.commit()
    ids = [r.id for r in rows]
    states = await harness.wait_finished([*ids, event.id])
    assert set(states.values()) == {OutboxState.DONE}
    async with harness.runtime.sessions() as session:
        assert await kinds.effect_runs(session, ids) == dict.fromkeys(ids, 1)


async def test_failures_retry_with_backoff_then_succeed(harness: Harness) -> None:
    async with harness.runtime.sessions() as session:
        row = outbox.enqueue(session, "test.flaky", 2)
        await session.commit()
    assert (await harness.wait_finished([row.id]))[row.id] is OutboxState.DONE
    done = await harness.row(row.id)
    assert (done.attempts, done.errors) == (3, 2)
    assert done.last_error == "RuntimeError: flaky failure 2"
    assert done.duration_ms is not None and done.latency_ms is not None


async def test_exhausted_job_is_dead_and_retry_job_replays_it(harness: Harness, tenant: Tenant) -> None:
    async with harness.runtime.sessions() as session:
        row = outbox.enqueue(session, "test.flaky", 4, organization_id=tenant.organization_id)
        await session.commit()
    assert (await harness.wait_finished([row.id]))[row.id] is OutboxState.DEAD
    dead = await harness.row(row.id)
    assert dead.attempts == 3
    assert dead.dead_reason == "gave up after 3 tries"
    assert dead.last_error == "RuntimeError: flaky failure 3"

    async with harness.runtime.sessions() as session:
        assert await admin.retry_job(session, tenant.organization_id + 10_000, row.id) is None
        replayed = await admin.retry_job(session, tenant.organization_id, row.id)
    assert replayed is not None and replayed.attempts == 0
    # The fourth run fails once more, the fifth succeeds: the replay got a fresh set of tries.
    assert (await harness.wait_finished([row.id]))[row.id] is OutboxState.DONE
    done = await harness.row(row.id)
    assert (done.attempts, done.errors, done.dead_reason) == (2, 4, None)


async def test_permanent_failure_stops_at_once(harness: Harness) -> None:
    async with harness.runtime.sessions() as session:
        row = outbox.enqueue(session, "test.permanent")
        await session.commit()
    assert (await harness.wait_finished([row.id]))[row.id] is OutboxState.DEAD
    dead = await harness.row(row.id)
    assert (dead.attempts, dead.dead_reason) == (1, "the target was deleted")


async def test_unknown_kind_is_dead_with_a_reason(harness: Harness) -> None:
    async with harness.runtime.sessions() as session:
        row = outbox.add(session, "test.nobody-handles-this", {})
        await session.commit()
    assert (await harness.wait_finished([row.id]))[row.id] is OutboxState.DEAD
    assert (await harness.row(row.id)).dead_reason == "no job registered for kind 'test.nobody-handles-this'"


async def test_retry_after_waits_the_requested_delay(harness: Harness) -> None:
    async with harness.runtime.sessions() as session:
        row = outbox.enqueue(session, "test.retry_after", 0.5)
        await session.commit()
    assert (await harness.wait_finished([row.id]))[row.id] is OutboxState.DONE
    done = await harness.row(row.id)
    assert done.attempts == 2
    assert done.last_error == "Retry: rate limited (in 0.5s)"
    # The second try cannot have started before the delay the job asked for.
    assert done.started_at is not None and done.started_at >= done.created_at + timedelta(seconds=0.5)
    async with harness.runtime.sessions() as session:
        assert [m for _, _, m in await kinds.trace_of(session, [row.id])] == ["try1", "try2"]


async def test_rows_sharing_a_key_run_one_at_a_time_in_order(harness: Harness) -> None:
    keys = [f"ticket-{secrets.token_hex(3)}" for _ in range(3)]
    async with harness.runtime.sessions() as session:
        rows = [outbox.enqueue(session, "test.ordered", 0.02, key=k) for _ in range(5) for k in keys]
        await session.commit()
    ids = [r.id for r in rows]
    assert set((await harness.wait_finished(ids)).values()) == {OutboxState.DONE}
    async with harness.runtime.sessions() as session:
        marks = await kinds.trace_of(session, ids)
    for key in keys:
        per_key = [(row_id, mark) for row_id, k, mark in marks if k == key]
        expected = [r.id for r in rows if r.key == key]
        # start/end pairs never interleave within a key, and follow creation order.
        assert per_key == [(i, m) for i in expected for m in ("start", "end")]


async def test_rows_with_different_keys_run_in_parallel(harness: Harness) -> None:
    group = secrets.token_hex(4)
    async with harness.runtime.sessions() as session:
        rows = [outbox.enqueue(session, "test.rendezvous", group, 3, key=f"{group}-{n}") for n in range(3)]
        await session.commit()
    states = await harness.wait_finished([r.id for r in rows])
    assert set(states.values()) == {OutboxState.DONE}, [(await harness.row(r.id)).dead_reason for r in rows]


async def test_ordering_an_ordered_kind_needs_a_key(harness: Harness) -> None:
    async with harness.runtime.sessions() as session:
        try:
            outbox.enqueue(session, "test.ordered", 0.0)
        except ValueError as exc:
            assert "ordered by key" in str(exc)
        else:
            raise AssertionError("an ordered kind without a key was accepted")


async def test_a_job_written_later_waits_for_its_key(harness: Harness) -> None:
    key = f"endpoint-{secrets.token_hex(3)}"
    async with harness.runtime.sessions() as session:
        first = outbox.enqueue(
            session, "test.ordered", 0.0, key=key, run_after=utcnow() + timedelta(seconds=1)
        )
        second = outbox.enqueue(session, "test.ordered", 0.0, key=key)
        await session.commit()
    await harness.wait_finished([first.id, second.id])
    async with harness.runtime.sessions() as session:
        order = [r for r, _, m in await kinds.trace_of(session, [first.id, second.id]) if m == "start"]
        assert order == [first.id, second.id]
        later = await session.scalar(select(OutboxRow.started_at).where(OutboxRow.id == second.id))
        assert later is not None and later >= first.run_after


async def test_many_jobs_finish(harness: Harness) -> None:
    async with harness.runtime.sessions() as session:
        rows = [outbox.enqueue(session, "test.record", "many") for _ in range(300)]
        await session.commit()
    ids = [r.id for r in rows]
    assert set((await harness.wait_finished(ids)).values()) == {OutboxState.DONE}
    async with harness.runtime.sessions() as session:
        assert set(await kinds.effect_runs(session, ids)) == set(ids)
