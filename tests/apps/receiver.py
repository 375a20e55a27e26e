"""A webhook receiver on loopback: one path per app, each verified with that app's secret by the
reference `standardwebhooks` package, arrival times kept for rate checks."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.conftest import free_port


@dataclass
class Hit:
    name: str
    msg_id: str
    body: bytes
    verified: bool
    at: float
    headers: dict[str, str] = field(default_factory=dict)  # time.monotonic() on arrival


@dataclass
class Endpoint:
    secret: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None  # answer only once set
    delay: float = 0.0
    # Requests being answered now, and the most there ever were at once.
    in_flight: int = 0
    max_in_flight: int = 0


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.endpoints: dict[str, Endpoint] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/{name}", self._handle, methods=["POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def url(self, name: str) -> str:
        self.endpoints.setdefault(name, Endpoint())
        return f"{self.base}/{name}"

    def of(self, name: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.name == name]

    async def _handle(self, request: Request) -> Response:
        name = request.path_params["name"]
        endpoint = self.endpoints.get(name, Endpoint())
        with self._lock:
            endpoint.in_flight += 1
            endpoint.max_in_flight = max(endpoint.max_in_flight, endpoint.in_flight)
        try:
            return await self._answer(name, request, endpoint)
        finally:
            with self._lock:
                endpoint.in_flight -= 1

    async def _answer(self, name: str, request: Request, endpoint: Endpoint) -> Response:
        body = await request.body()
        verified = False
        if endpoint.secret:
            try:
                Webhook(endpoint.secret).verify(body, dict(request.headers), json_parse=False)
                verified = True
            except WebhookVerificationError:
                verified = False
        with self._lock:
            self.hits.append(
                Hit(
                    name,
                    request.headers.get("webhook-id", ""),
                    body,
                    verified,
                    time.monotonic(),
                    dict(request.headers),
                )
            )
        if endpoint.hold is not None:
            await asyncio.to_thread(endpoint.hold.wait, 60)
        if endpoint.delay:
            await asyncio.sleep(endpoint.delay)
        return PlainTextResponse("ok" if endpoint.status < 300 else "nope", endpoint.status, endpoint.headers)

    def start(self) -> Receiver:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        for endpoint in self.endpoints.values():
            if endpoint.hold is not None:
                endpoint.hold.set()
        self.server.should_exit = True
        self.thread.join(timeout=10)
