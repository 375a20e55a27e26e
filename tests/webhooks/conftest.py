"""A real webhook receiver on loopback that verifies signatures with the reference package."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from conduit.webhooks import signing
from tests.conftest import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    secret: str
    url: str = ""
    received: list[Received] = field(default_factory=list)
    # Holds the slow route open until the test is over, instead of sleeping a guessed time.
    release_slow: threading.Event = field(default_factory=threading.Event)

    def clear(self) -> None:
        self.received.clear()


def _app(receiver: Receiver) -> Starlette:
    webhook = Webhook(receiver.secret)

    async def record(request: Request) -> bool:
        body = await request.body()
        try:
            webhook.verify(body, dict(request.headers), json_parse=False)
            verified = True
        except WebhookVerificationError:
            verified = False
        receiver.received.append(Received(request.url.path, dict(request.headers), body, verified))
        return verified

    async def ok(request: Request) -> Response:
        verified = await record(request)
        return PlainTextResponse("thanks" if verified else "bad signature", 200 if verified else 400)

    async def gone(request: Request) -> Response:
        await record(request)
        return PlainTextResponse("endpoint removed", 410)

    async def throttled(request: Request) -> Response:
        await record(request)
        return PlainTextResponse("slow down", 429, headers={"retry-after": "120"})

    async def redirect(request: Request) -> Response:
        await record(request)
        return RedirectResponse("/ok", 307)

    async def failing(request: Request) -> Response:
        await record(request)
        return PlainTextResponse("x" * 10_000, 500)

    async def slow(request: Request) -> Response:
        await record(request)
        await asyncio.to_thread(receiver.release_slow.wait, 60)
        return PlainTextResponse("too late")

    routes = [
        Route(path, handler, methods=["POST"])
        for path, handler in (
            ("/ok", ok),
            ("/gone", gone),
            ("/throttled", throttled),
            ("/redirect", redirect),
            ("/failing", failing),
            ("/slow", slow),
        )
    ]
    return Starlette(routes=routes)


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    rec = Receiver(secret=signing.generate_secret())
    port = free_port()
    rec.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(_app(rec), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):
        if server.started:
            started.set()
            break
        started.wait(0.01)
    if not started.is_set():
        raise RuntimeError("webhook receiver did not start")
    try:
        yield rec
    finally:
        rec.release_slow.set()
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def fresh_receiver(receiver: Receiver) -> Receiver:
    receiver.clear()
    return receiver
