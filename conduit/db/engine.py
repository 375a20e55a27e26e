"""The async engine and session factory for SQLite (embedded) and PostgreSQL (at scale)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util.concurrency import await_only, in_greenlet

# How long a transaction waits for its turn to write before it fails as SQLite would ("database is
# locked"). Turns are taken in order, so a wait this long means the process is far behind, not unlucky.
WRITE_TURN_TIMEOUT = 30.0
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)
_HOLDS = "conduit.write_turn"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers work while the ingest path writes; the busy timeout absorbs writer contention
    # between processes (within one, the write gate below queues writers).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class WriteGate:
    """One writer at a time per SQLite engine and event loop, taken in arrival order.

    SQLite allows a single writer, and a writer that finds the file locked polls it with growing
    sleeps: under load some transaction keeps losing the race until its busy timeout runs out, and the
    job it belonged to fails with "database is locked". Here a connection takes its turn (a FIFO
    asyncio lock) just before its transaction's first write, and gives it back when the transaction
    ends, so in-process writers queue instead of polling. Reads never wait: WAL lets them run beside
    the writer. The Python driver begins its transaction at the first write, not at a read, so a
    transaction never reads a snapshot that a turn taken later would make stale.
    """

    def __init__(self, engine: Engine) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        event.listen(engine, "before_cursor_execute", self._before_execute)
        for name in ("commit", "rollback"):
            event.listen(engine, name, self._ended)
        for name in ("reset", "checkin", "invalidate", "close"):
            event.listen(engine.pool, name, self._returned)

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def _before_execute(self, conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.info
        if _HOLDS in info or not in_greenlet() or not _WRITES.match(statement):
            return
        lock = self._lock()
        try:
            await_only(asyncio.wait_for(lock.acquire(), WRITE_TURN_TIMEOUT))
        except TimeoutError:
            raise sqlite3.OperationalError(
                f"database is locked: no turn to write within {WRITE_TURN_TIMEOUT:.0f}s"
            ) from None
        info[_HOLDS] = lock

    def _ended(self, conn: Connection) -> None:
        self._release(conn.info)

    def _returned(self, _dbapi_conn: Any, record: Any, *_args: Any) -> None:
        if record is not None:
            self._release(record.info)

    @staticmethod
    def _release(info: dict[Any, Any]) -> None:
        lock = info.pop(_HOLDS, None)
        if lock is not None and lock.locked():
            lock.release()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        WriteGate(engine.sync_engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
