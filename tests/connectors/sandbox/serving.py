"""Serving sandboxes in tests: a served sandbox with a client, a webhook receiver, OAuth helpers."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conduit.connectors.sandbox import Sandbox, SandboxServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint: records what arrives; answers with the queued statuses, then 200."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.cond:
            self.requests.append(Received(request.url.path, dict(request.headers), body))
            status = self.statuses.pop(0) if self.statuses else 200
            self.cond.notify_all()
        return Response(status_code=status)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} webhook(s), got {len(self.requests)}")
            return list(self.requests)


@dataclass
class Served:
    sandbox: Any
    url: str
    http: httpx.Client

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, "/_sandbox" + path, **kwargs)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def delivery(self, delivery_id: int) -> dict[str, Any]:
        """The delivery once it left the pending state (the sandbox waits server-side)."""
        result: dict[str, Any] = self.control("GET", f"/deliveries/{delivery_id}", params={"wait": 10})
        return result


def authorize_code(http: httpx.Client, path: str, **params: str) -> dict[str, str]:
    response = http.get(path, params=params)
    assert response.status_code == 302, response.text
    query = parse_qs(urlparse(response.headers["location"]).query)
    return {k: v[0] for k, v in query.items()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def poll(check: Any, timeout: float = 10.0) -> Any:
    """Wait for a condition the server reaches on its own (e.g. noticing a client went away)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


@contextlib.contextmanager
def serve(sandbox: Sandbox) -> Iterator[Served]:
    """`sandbox` on loopback in a thread, with a client for its API and controls."""
    with (
        SandboxServer(sandbox) as server,
        httpx.Client(base_url=server.url, timeout=10, verify=False) as http,
    ):
        yield Served(sandbox, server.url, http)


@contextlib.contextmanager
def receiving() -> Iterator[Receiver]:
    """A webhook receiver on loopback."""
    rec = Receiver()
    app = Starlette(routes=[Route("/{path:path}", rec.handle, methods=["POST"])])
    with SandboxServer(app) as server:
        rec.url = server.url
        yield rec
