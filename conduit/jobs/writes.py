"""Transactions for the job system's own bookkeeping.

SQLite allows a single writer; twenty job tasks racing for it spend their time in the busy handler's
sleeps. Queueing them on an asyncio lock is much faster, and each bookkeeping write is one short
statement, so the file lock is never held for long.

On PostgreSQL, bookkeeping commits skip the wait for the WAL flush (synchronous_commit off). A crash
can then forget the last few state changes, never the rows themselves: a forgotten QUEUED or DONE
only means a row is handed over or run again, which at-least-once jobs must tolerate anyway.
The caller's own transactions, which create the rows, stay fully durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from conduit.runtime import Runtime

log = logging.getLogger("conduit.jobs.writes")
T = TypeVar("T")
_RELAXED = text("SET LOCAL synchronous_commit TO OFF")
_locks: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()
# Errors that mean "the database went away for a moment", worth waiting out rather than failing on.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (DBAPIError, OSError, ConnectionError)
MAX_ERROR_CHARS = 4000


def describe(exc: BaseException) -> str:
    text_ = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text_[:MAX_ERROR_CHARS]


class DatabaseUnavailable(RuntimeError):
    """The outbox could not be read or written for a while; the row is left to the sweeper."""


def _sqlite_lock(runtime: Runtime) -> asyncio.Lock:
    return _locks.setdefault(runtime.engine.sync_engine, asyncio.Lock())


@contextlib.asynccontextmanager
async def transaction(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A session in a transaction, committed on exit; serialized with other job writes on SQLite."""
    if runtime.engine.dialect.name == "postgresql":
        async with runtime.sessions() as session, session.begin():
            await session.execute(_RELAXED)
            yield session
        return
    async with _sqlite_lock(runtime), runtime.sessions() as session, session.begin():
        yield session


class Writer:
    """Where the runners record state changes: one statement at a time, cheaply.

    `dedicated` gives PostgreSQL bookkeeping its own small pool of autocommit connections with
    synchronous_commit off: a state change is then a single round trip, with no BEGIN, no COMMIT
    and no liveness ping on checkout. A connection that died is noticed by the failed statement,
    which invalidates the pool; callers retry through `patiently`. Close a dedicated writer.
    On SQLite (one process) it is the runtime's engine, behind the job writes' lock.
    """

    def __init__(self, runtime: Runtime, *, dedicated: bool = False) -> None:
        self.runtime = runtime
        self._engine: AsyncEngine | None = None
        if dedicated and runtime.engine.dialect.name == "postgresql":
            self._engine = create_async_engine(
                runtime.engine.url,
                pool_size=4,
                max_overflow=4,
                isolation_level="AUTOCOMMIT",
                connect_args={"server_settings": {"synchronous_commit": "off"}},
            )

    @contextlib.asynccontextmanager
    async def statements(self) -> AsyncIterator[AsyncConnection]:
        """A connection for single-statement writes; on SQLite, one transaction committed on exit."""
        if self._engine is not None:
            async with self._engine.connect() as conn:
                yield conn
            return
        if self.runtime.engine.dialect.name == "postgresql":
            async with self.runtime.engine.begin() as conn:
                await conn.execute(_RELAXED)
                yield conn
            return
        async with _sqlite_lock(self.runtime), self.runtime.engine.begin() as conn:
            yield conn

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


async def patiently(op: Callable[[], Awaitable[T]], patience: float) -> T:
    """Run a short outbox write, riding out a database restart, dropped connections or a busy file."""
    deadline = time.monotonic() + patience
    delay = 0.1
    while True:
        try:
            return await op()
        except TRANSIENT_DB_ERRORS as exc:
            if time.monotonic() + delay > deadline:
                raise DatabaseUnavailable(describe(exc)) from exc
            log.warning("outbox database unavailable, retrying in %.1fs: %s", delay, describe(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
