"""The embedded runner: a pool of asyncio tasks in the serving process, fed by the dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from conduit.jobs import claims, writes
from conduit.jobs.executor import Executor
from conduit.runtime import Runtime

log = logging.getLogger("conduit.jobs.embedded")


class EmbeddedPool:
    """A transport that runs rows right here. Ids it holds are ids no other task may take."""

    def __init__(self, runtime: Runtime, concurrency: int) -> None:
        self.runtime = runtime
        self.concurrency = concurrency
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._held: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, executor: Executor) -> None:
        # The executor comes last: it wakes the dispatcher that feeds this pool.
        self._tasks = [
            asyncio.create_task(self._work(executor), name=f"conduit-job-{n}")
            for n in range(self.concurrency)
        ]

    async def hand(self, ids: Sequence[int]) -> None:
        for row_id in ids:
            if row_id not in self._held:
                self._held.add(row_id)
                self._queue.put_nowait(row_id)

    async def forget(self, ids: Sequence[int]) -> None:
        # A run that lost its lease here was cut off by the executor's timeout; nothing is left behind.
        return None

    async def _work(self, executor: Executor) -> None:
        while True:
            row_id = await self._queue.get()
            try:
                await executor.run(row_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The row stays leased; the sweeper hands it over again when the lease runs out.
                log.exception("job=%s could not be run", row_id)
            finally:
                self._held.discard(row_id)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        waiting: list[int] = []
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        if waiting:
            # Queued here but never started: give them back now rather than after their lease.
            try:
                async with writes.transaction(self.runtime) as session:
                    await claims.release(session, waiting)
            except Exception:
                log.warning("could not give back %d queued jobs; the sweeper will", len(waiting))
        self._held.clear()
