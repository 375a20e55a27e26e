"""Serve a sandbox tracker (or any ASGI app) with uvicorn on loopback.

`SandboxServer` runs it in a background thread — for synchronous code and for tests whose event loop
must stay free. `async with SandboxServer(app)` runs it as a task in the current loop instead; then only
async clients may call it from that loop. The socket is bound before uvicorn starts, so `.url` is known
at once and no other process can take the port in between.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from conduit.connectors.sandbox.core import Sandbox

START_TIMEOUT = 10.0


class SandboxServer:
    def __init__(self, target: Sandbox | ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = target if isinstance(target, Sandbox) else None
        app = target.app if isinstance(target, Sandbox) else target
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.host, self.port = self.socket.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        if self.sandbox is not None:
            self.sandbox.base_url = self.url
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            # A request held by a `timeout` fault must not keep shutdown waiting.
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    # -- in a thread ---------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            name=f"sandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        started = threading.Event()
        for _ in range(int(START_TIMEOUT / 0.01)):
            if self.server.started:
                return self
            if not self._thread.is_alive():
                break
            started.wait(0.01)
        raise RuntimeError(f"sandbox server on port {self.port} did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=START_TIMEOUT)
            self._thread = None
        self.socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- in the current loop -------------------------------------------------------------------------
    async def astart(self) -> SandboxServer:
        self._task = asyncio.create_task(self.server.serve(sockets=[self.socket]))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while not self.server.started:
            if self._task.done() or loop.time() > deadline:
                raise RuntimeError(f"sandbox server on port {self.port} did not start")
            await asyncio.sleep(0.01)
        return self

    async def astop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await self._task
            self._task = None
        self.socket.close()

    async def __aenter__(self) -> SandboxServer:
        return await self.astart()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.astop()
