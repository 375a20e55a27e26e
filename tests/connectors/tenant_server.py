"""A server a tenant controls, on loopback: it records every request it gets and answers with whatever
the test sets, so tests can check what Conduit sends to a tenant-named base URL and what it repeats
back from the answer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conduit.connectors.sandbox import SandboxServer

# What the tenant's server answers: a secret-looking body, as a loopback service would show.
LEAKY_BODY = "ERR operation not permitted\nredis_password=hunter2-do-not-show\nmasterauth=s3cr3t"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def mentions(self, text: str) -> bool:
        """Whether `text` appears anywhere in the request, as sent or URL-encoded."""
        haystack = " ".join([self.path, self.query, *self.headers.values()]) + self.body.decode(
            "utf-8", "replace"
        )
        return text in haystack or quote_plus(text) in haystack


@dataclass
class TenantServer:
    status: int = 500
    content_type: str = "text/plain"
    body: str = LEAKY_BODY
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: SandboxServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.port)

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def app(self) -> Starlette:
        async def anything(request: Request) -> Response:
            body = await request.body()
            seen = Received(request.method, request.url.path, request.url.query, dict(request.headers), body)
            with self._lock:
                self.received.append(seen)
            return Response(self.body, self.status, headers=self.headers, media_type=self.content_type)

        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", anything, methods=methods)])

    def __enter__(self) -> TenantServer:
        self.server = SandboxServer(self.app()).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.stop()


__all__ = ["LEAKY_BODY", "Received", "TenantServer"]
