"""Conduit served on loopback in the test's event loop, as a deployment runs it: the app, the job runner
embedded, and tracker clients, with its public URL set to where it listens, so the webhook URLs it
registers and the links it sends reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from conduit.app import create_app
from conduit.connectors import Connectors
from conduit.connectors.sandbox import SandboxServer
from conduit.connectors.service import CONNECTORS
from conduit.jobs.config import JobsSettings
from conduit.jobs.service import start_jobs
from conduit.runtime import Runtime
from conduit.settings import Settings

# Under the sandbox timeouts that fault tests inject (3 s): such a call times out, and soon.
CLIENT_TIMEOUT = 2.0


@dataclass
class LiveConduit:
    runtime: Runtime
    url: str


@asynccontextmanager
async def live_conduit(settings: Settings, *, poll_interval: float = 0.2) -> AsyncIterator[LiveConduit]:
    """Conduit with `settings`, its public URL the one it listens on, its job runner polling the outbox
    every `poll_interval` seconds and sweeping often, so that work queued by a test starts at once."""
    holder: dict[str, Any] = {}

    # The server is made first, for its URL; the app, which needs settings holding that URL, after.
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await holder["app"](scope, receive, send)

    server = SandboxServer(asgi)
    rt = Runtime.create(settings.model_copy(update={"public_url": server.url}))
    connectors = Connectors(rt, timeout=CLIENT_TIMEOUT)
    rt.provide(CONNECTORS, connectors)
    jobs = await start_jobs(
        rt,
        JobsSettings(
            poll_interval_seconds=poll_interval,
            sweep_interval_seconds=0.5,
            handover_lease_seconds=5,
            lease_grace_seconds=2,
        ),
    )
    holder["app"] = create_app(runtime=rt)
    await server.astart()
    try:
        yield LiveConduit(rt, server.url)
    finally:
        await server.astop()
        await jobs.stop()
        await connectors.aclose()
        await rt.close()
