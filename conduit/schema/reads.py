"""The database session the reads of one GraphQL request go through.

A query over HTTP reads through one session: one connection and one transaction, taken at its first read
and given back when its response is done (`Reads.close`, called by the HTTP view). A session per
DataLoader batch costs a pool checkout, a BEGIN and a ROLLBACK (on SQLite, aiosqlite's thread hops
instead) for every batch, which is more than the query itself for the small batches of a page.

Uses of the shared session take turns (a lock): a session runs one statement at a time, and batches
dispatched in the same turn of the loop run as concurrent tasks. A read that fails rolls the session
back, so the reads after it (other fields of the same answer) still work.

Everything else reads through a short session of its own, as each read did before:

- mutations, whose own sessions commit: a mutation is not kept waiting for a connection while its
  request holds another one;
- subscriptions and contexts made outside the HTTP view, which live long: they must not hold a
  connection for their lifetime;
- a query arriving while half of a pooled engine's connections are already held by shared sessions.
  A request holding its session may still take a second connection (a domain service with sessions of
  its own), so holders must never be able to take the whole pool: with at most half of it held, the
  other half always serves those second connections, and every holder finishes. The request that finds
  no slot does not wait for one; it reads as before.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import QueuePool
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from conduit.runtime import Resource

log = logging.getLogger("conduit.graphql")


class Slots:
    """How many requests of one engine may hold a shared session at once: half its pool, or any number
    when its pool does not block (one static connection, or a new one per checkout)."""

    def __init__(self, engine: AsyncEngine) -> None:
        pool = engine.sync_engine.pool
        overflow = getattr(pool, "_max_overflow", -1)  # -1: no limit
        self._semaphore: threading.BoundedSemaphore | None = None
        if isinstance(pool, QueuePool) and overflow >= 0:
            self._semaphore = threading.BoundedSemaphore(max(1, (pool.size() + overflow) // 2))

    def take(self) -> bool:
        # Never blocks: a request without a slot reads through short sessions instead of waiting.
        return self._semaphore is None or self._semaphore.acquire(blocking=False)

    def give_back(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()


SLOTS: Resource[Slots] = Resource("shared read session slots", make=lambda runtime: Slots(runtime.engine))


class Reads:
    """The reads of one request: through its shared session once `share` succeeded, else each through a
    short session of its own."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], slots: Slots | None = None) -> None:
        # Public for writes made while reading (a loader queueing a job), which commit in their own.
        self.sessions = sessions
        # None: this context may never share (see the module docstring).
        self._slots = slots
        self._shared = False
        self._session: AsyncSession | None = None
        self._connecting: asyncio.Future[Any] | None = None
        self._lock: asyncio.Lock | None = None

    def share(self) -> None:
        """From now on, read through one session, if a slot is free."""
        if self._slots is not None and not self._shared and self._slots.take():
            self._shared = True
            self._lock = asyncio.Lock()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session to read with; not to commit with."""
        if not self._shared:
            async with self.sessions() as session:
                yield session
            return
        assert self._lock is not None
        async with self._lock:
            if self._session is None:
                self._session = self.sessions()
                # Taking the connection (checkout, ping, BEGIN) runs to its end even when the time budget
                # stops the operation meanwhile: interrupted, it leaves a session that cannot be closed
                # and a connection that never goes back to the pool.
                self._connecting = asyncio.ensure_future(self._session.connection())
            assert self._connecting is not None
            await asyncio.shield(self._connecting)
            try:
                yield self._session
            except Exception:
                # On PostgreSQL a failed statement aborts the transaction: start afresh for the next read.
                # (Not on cancellation: the connection may be mid-statement; `close` deals with it.)
                await self._session.rollback()
                raise

    async def close(self) -> None:
        """Give the connection back (the response is done); later reads take short sessions."""
        if not self._shared:
            return
        self._shared = False
        session, self._session = self._session, None
        connecting, self._connecting = self._connecting, None
        try:
            if connecting is not None:
                await asyncio.wait([connecting])
                if not connecting.cancelled():
                    connecting.exception()  # retrieved: a failure was already raised to the reader
            if session is not None:
                await session.close()
        except Exception:
            # The answer is decided by now (a stopped operation may leave its connection mid-statement,
            # which the pool discards): failing to tidy up must not turn it into a server error.
            log.warning("closing a request's read session failed", exc_info=True)
        finally:
            assert self._slots is not None
            self._slots.give_back()


class ShareReadsInQueries(SchemaExtension):
    """Let a query share one read session; a mutation or subscription reads as before."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        reads: Any = getattr(ctx.context, "reads", None)
        if isinstance(reads, Reads) and ctx.operation_type is OperationType.QUERY:
            reads.share()
        yield
