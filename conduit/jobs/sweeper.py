"""The sweeper: rows whose lease ran out without an outcome go back to PENDING, to be handed over again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from conduit.db.base import utcnow
from conduit.jobs import claims, writes
from conduit.jobs.config import JobsSettings
from conduit.jobs.transport import Transport
from conduit.runtime import Runtime

log = logging.getLogger("conduit.jobs.sweeper")


async def sweep(runtime: Runtime, transport: Transport) -> int:
    async with writes.transaction(runtime) as session:
        queued, running = await claims.sweep_expired(session, utcnow())
        # Cleared before commit: once PENDING, a row may be handed over again at any moment, and
        # markers left by a dead worker (arq's in-progress key) must not shadow that new hand-over.
        # Clearing a live one is harmless: the database lets only one run start.
        await transport.forget(queued + running)
    for ids, what in ((queued, "queued"), (running, "running")):
        if ids:
            log.warning("lease expired on %d %s jobs, handing them over again: %s", len(ids), what, ids[:20])
    return len(queued) + len(running)


async def run_sweeper(
    runtime: Runtime, settings: JobsSettings, transport: Transport, wake: Callable[[], None]
) -> None:
    while True:
        await asyncio.sleep(settings.sweep_interval_seconds)
        try:
            if await sweep(runtime, transport):
                wake()
        except Exception as exc:
            log.warning("sweep failed, will retry: %s: %s", type(exc).__name__, exc)
