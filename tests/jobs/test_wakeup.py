"""A job waiting for work written after it started is woken by the commit that writes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete

from conduit.db.models import OutboxRow
from conduit.jobs import outbox, wakeup
from conduit.runtime import Runtime

KIND = "test.record"


@pytest.fixture
async def written(runtime: Runtime) -> AsyncIterator[list[int]]:
    """Ids of the rows a test writes, removed after it: no runner is to take them in a later test."""
    ids: list[int] = []
    yield ids
    async with runtime.sessions() as session:
        await session.execute(delete(OutboxRow).where(OutboxRow.id.in_(ids)))
        await session.commit()


async def _write_row(runtime: Runtime, ids: list[int], commit: bool = True) -> None:
    async with runtime.sessions() as session:
        row = outbox.enqueue(session, KIND, 1)
        if not commit:
            await session.rollback()
            return
        await session.commit()
        ids.append(row.id)


async def test_a_commit_writing_outbox_rows_wakes_a_signal_and_no_other_commit_does(
    runtime: Runtime, written: list[int]
) -> None:
    signal = wakeup.Signal(runtime.engine.sync_engine)
    try:
        async with runtime.sessions() as session:
            await session.commit()
        assert not await signal.wait(0)

        await _write_row(runtime, written, commit=False)
        assert not await signal.wait(0)

        await _write_row(runtime, written)
        # Set by the commit, before anyone waits: the waiter does not miss it.
        assert await signal.wait(0)
        # Taken by that wait: the next one waits for another commit.
        assert not await signal.wait(0)
    finally:
        signal.close()

    await _write_row(runtime, written)
    assert not await signal.wait(0)


async def test_a_waiter_wakes_when_the_commit_lands(runtime: Runtime, written: list[int]) -> None:
    signal = wakeup.Signal(runtime.engine.sync_engine)
    try:
        waiting = asyncio.create_task(signal.wait(60))
        await asyncio.sleep(0)
        assert not waiting.done()
        await _write_row(runtime, written)
        assert await waiting
    finally:
        signal.close()
