"""Transactions for the job system's own bookkeeping.

SQLite allows a single writer; twenty job tasks racing for it spend their time in the busy handler's
sleeps. Queueing them on an asyncio lock is much faster.

On PostgreSQL, bookkeeping commits skip the wait for the WAL flush (synchronous_commit off). A crash
can then forget the last few state changes, never the rows themselves: a forgotten QUEUED or DONE
only means a row is handed over or run again, which at-least-once jobs must tolerate anyway.
The caller's own transactions, which create the rows, stay fully durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.runtime import Runtime

_RELAXED = text("SET LOCAL synchronous_commit TO OFF")
_locks: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def transaction(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A session in a transaction, committed on exit; serialized with other job writes on SQLite."""
    if runtime.engine.dialect.name == "postgresql":
        async with runtime.sessions() as session, session.begin():
            await session.execute(_RELAXED)
            yield session
        return
    lock = _locks.setdefault(runtime.engine.sync_engine, asyncio.Lock())
    async with lock, runtime.sessions() as session, session.begin():
        yield session
