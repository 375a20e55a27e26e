"""The dispatcher: claims due outbox rows and hands them to a transport, right after commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from conduit.db.base import utcnow
from conduit.jobs import claims, wakeup, writes
from conduit.jobs.config import JobsSettings
from conduit.jobs.transport import Transport
from conduit.runtime import Runtime

log = logging.getLogger("conduit.jobs.dispatcher")
COALESCE_SECONDS = 0.005


class Dispatcher:
    def __init__(
        self,
        runtime: Runtime,
        settings: JobsSettings,
        transport: Transport,
        writer: writes.Writer | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.transport = transport
        self.writer = writer or writes.Writer(runtime)
        self._event = asyncio.Event()
        self.failing = False

    def wake(self) -> None:
        self._event.set()

    async def dispatch_once(self) -> int:
        """Hand over one batch of due rows; return how many. Raises if the transport refused them."""
        lease = timedelta(seconds=self.settings.handover_lease_seconds)
        async with self.writer.statements() as conn:
            ids = await claims.claim_due(conn, utcnow(), self.settings.dispatch_batch, lease)
        if not ids:
            return 0
        try:
            await self.transport.hand(ids)
        except BaseException:
            # Committed as QUEUED but never queued: give them back so the next pass retries at once.
            with contextlib.suppress(Exception):
                async with self.writer.statements() as conn:
                    await claims.release(conn, ids)
            raise
        return len(ids)

    async def dispatch_all(self) -> int:
        total = 0
        while True:
            n = await self.dispatch_once()
            total += n
            if n < self.settings.dispatch_batch:
                return total

    async def run(self) -> None:
        waker = wakeup.event_waker(self._event)
        unsubscribe = wakeup.subscribe(self.runtime.engine.sync_engine, waker)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._event.wait(), self.settings.poll_interval_seconds)
                # Commits tend to come in bursts: a moment's pause lets one claim take many rows.
                await asyncio.sleep(COALESCE_SECONDS)
                self._event.clear()
                try:
                    await self.dispatch_all()
                except Exception as exc:
                    # Redis or the database is away; the rows wait in the outbox. Log once per outage.
                    if not self.failing:
                        log.warning(
                            "hand-over failed, will retry every poll: %s: %s", type(exc).__name__, exc
                        )
                    self.failing = True
                    await asyncio.sleep(self.settings.poll_interval_seconds)
                else:
                    if self.failing:
                        log.info("hand-over recovered")
                    self.failing = False
        finally:
            unsubscribe()
