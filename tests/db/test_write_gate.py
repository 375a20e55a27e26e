"""SQLite's writers in one process take turns (`db.engine.WriteGate`) instead of racing for the file.

The busy timeout is cut to 100 ms here while each writer holds the file for 20 ms, so thirty writers
racing for it would fail with "database is locked"; taking turns, every one commits (the timeout then
only covers the moment between a turn's release and its COMMIT).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from conduit.db.engine import make_engine

WRITERS = 30


def _short_busy_wait(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=100")
    cursor.close()


@pytest.fixture
async def engine(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}", pool_size=WRITERS, max_overflow=0)
    event.listen(engine.sync_engine, "connect", _short_busy_wait)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        await conn.execute(text("INSERT INTO counter (id, n) VALUES (1, 0)"))
    yield engine
    await engine.dispose()


async def _increment(engine: AsyncEngine, fail: bool = False) -> None:
    async with engine.connect() as conn:
        # A read first, outside the turn: readers never wait.
        await conn.execute(text("SELECT n FROM counter WHERE id = 1"))
        await conn.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        # Hold the write lock across a hop to the event loop, so the other writers arrive meanwhile.
        await asyncio.sleep(0.02)
        await conn.execute(text("INSERT INTO counter (n) VALUES (0)"))
        if fail:
            raise RuntimeError("the transaction's owner gave up")
        await conn.commit()


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT n FROM counter WHERE id = 1"))).scalar_one())


async def test_concurrent_writers_all_commit(engine: AsyncEngine) -> None:
    results = await asyncio.gather(*(_increment(engine) for _ in range(WRITERS)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await _count(engine) == WRITERS


async def test_a_transaction_that_ends_without_commit_gives_its_turn_back(engine: AsyncEngine) -> None:
    results = await asyncio.gather(
        *(_increment(engine, fail=n % 3 == 0) for n in range(WRITERS)), return_exceptions=True
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, RuntimeError) for r in failed)
    assert len(failed) == len(range(0, WRITERS, 3))
    assert await _count(engine) == WRITERS - len(failed)


async def test_a_cancelled_writer_gives_its_turn_back(engine: AsyncEngine) -> None:
    holder = asyncio.create_task(_increment(engine))
    waiters = [asyncio.create_task(_increment(engine)) for _ in range(5)]
    await asyncio.sleep(0)
    waiters[2].cancel()
    results = await asyncio.gather(holder, *waiters, return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, asyncio.CancelledError)) <= 1
    done = sum(1 for r in results if r is None)
    assert await _count(engine) == done
    # The file is free again: one more writer goes through at once.
    await _increment(engine)
    assert await _count(engine) == done + 1
