"""The embedded runner: a pool of asyncio tasks in the serving process, fed by the dispatcher."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from conduit.jobs import claims
from conduit.jobs.executor import STOP_SECONDS, Executor
from conduit.jobs.writes import Writer

log = logging.getLogger("conduit.jobs.embedded")


class EmbeddedPool:
    """A transport that runs rows right here. Ids it holds are ids no other task may take."""

    def __init__(self, writer: Writer, concurrency: int) -> None:
        self.writer = writer
        self.concurrency = concurrency
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._held: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._executor: Executor | None = None

    def start(self, executor: Executor) -> None:
        # The executor comes last: it wakes the dispatcher that feeds this pool.
        self._executor = executor
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
        """Stop promptly: in-flight jobs are cancelled and handed back, queued ones given back.

        Every step is bounded, so a stopping server never outlives its host's patience; a row
        that could not be given back in time waits out its lease (or the next start, on SQLite).
        """
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            # Each cancelled run makes one bounded attempt to hand its row back.
            _, stuck = await asyncio.wait(tasks, timeout=STOP_SECONDS + 1)
            if stuck:
                log.warning("%d jobs ignored cancellation; their leases will bring them back", len(stuck))
        if self._executor is not None:
            await self._executor.close()
        waiting: list[int] = []
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        if waiting:
            # Queued here but never started: give them back now rather than after their lease.
            try:
                async with asyncio.timeout(STOP_SECONDS):
                    async with self.writer.statements() as conn:
                        await claims.release(conn, waiting)
            except (TimeoutError, Exception):
                log.warning("could not give back %d queued jobs; the sweeper will", len(waiting))
        self._held.clear()
