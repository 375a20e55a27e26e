"""One writer at a time on SQLite.

SQLite allows a single writer; twenty job tasks racing for it spend their time in the busy handler's
sleeps. Queueing them on an asyncio lock is much faster. PostgreSQL needs no such thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.runtime import Runtime

_locks: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def transaction(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A session in a transaction, committed on exit; serialized with other job writes on SQLite."""
    if runtime.engine.dialect.name != "sqlite":
        async with runtime.sessions() as session, session.begin():
            yield session
        return
    lock = _locks.setdefault(runtime.engine.sync_engine, asyncio.Lock())
    async with lock, runtime.sessions() as session, session.begin():
        yield session
