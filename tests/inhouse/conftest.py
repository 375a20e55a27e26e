"""The reference in-house tracker, served on its own (as a team runs it), and broken copies of it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conduit.connectors.sandbox import SandboxServer
from conduit.webhooks.signing import generate_secret
from conduit.webhooks.signing import headers as signed_headers
from examples.inhouse_tracker.service import Store, create_app

# Conduit over real HTTP with every tracker's sandbox, as the sync suites serve them.
from tests.sync.conftest import conduit, conduit_server, sides  # noqa: F401


@pytest.fixture
def secret() -> str:
    return generate_secret()


def serve_reference(secret: str, wrap: Callable[[ASGIApp], ASGIApp] | None = None) -> SandboxServer:
    app: ASGIApp = create_app(Store(":memory:"), [secret])
    return SandboxServer(wrap(app) if wrap else app)


@pytest.fixture
def reference(secret: str) -> Iterator[str]:
    with serve_reference(secret) as server:
        yield server.url


def accepts_unsigned(secret: str) -> Callable[[ASGIApp], ASGIApp]:
    """A service that takes requests without a signature (it signs them itself, as if they had one)."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and not any(k == b"webhook-signature" for k, _ in scope["headers"]):
                message = await receive()
                added = signed_headers("msg_" + str(id(message)), message.get("body", b""), [secret])
                headers = [*scope["headers"], *((k.encode(), v.encode()) for k, v in added.items())]
                scope = {**scope, "headers": headers}
                sent = [message]

                async def replay() -> Message:
                    return sent.pop() if sent else await receive()

                await app(scope, replay, send)
                return
            await app(scope, receive, send)

        return broken

    return wrap


def rewrites(change: Callable[[str, str, int, bytes], tuple[int, bytes]]) -> Callable[[ASGIApp], ASGIApp]:
    """A service whose answers `change(method, path, status, body)` alters."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start: dict[str, Message] = {}
            chunks: list[bytes] = []

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    start["message"] = message
                    return
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                status, body = change(
                    scope["method"], scope["path"], start["message"]["status"], b"".join(chunks)
                )
                headers = [(k, v) for k, v in start["message"]["headers"] if k != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})

            await app(scope, receive, capture)

        return broken

    return wrap


def created_says_200(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
    return (200 if method == "POST" and path == "/tickets" and status == 201 else status), body


def tickets_without_done(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
    if method == "POST" and path.endswith("/status") and status == 200:
        data = json.loads(body)
        data.pop("done", None)
        body = json.dumps(data).encode()
    return status, body
