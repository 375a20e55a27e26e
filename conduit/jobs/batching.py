"""Group commit: concurrent jobs' bookkeeping writes share one transaction.

Twenty jobs finishing at about the same time cost one statement instead of twenty. A batch waits
`window` seconds for company before it is written (arq starts jobs one Redis round trip apart, so
without a short wait most batches would hold a single row); whoever submits while a batch is being
written joins the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(
        self,
        flush: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        max_batch: int = 500,
        window: float = 0.0,
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._window = window
        self._items: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._items.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._items:
            await asyncio.sleep(self._window)
            batch, self._items = self._items[: self._max_batch], self._items[self._max_batch :]
            try:
                results = await self._flush([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def close(self, patience: float) -> None:
        """Let the batch being written finish, for up to `patience` seconds, then stop.

        Items still waiting are cancelled: their submitters learn nothing was recorded.
        """
        task, self._task = self._task, None
        if task is not None and not task.done():
            done, _ = await asyncio.wait([task], timeout=patience)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for _, future in self._items:
            future.cancel()
        self._items = []
