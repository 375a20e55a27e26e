"""Outgoing webhooks of a sandbox tracker: queued, sent in order from the server's loop, all recorded.

Each delivery keeps its body and a signer; a redelivery sends the same body with the same delivery id,
as a tracker's "Redeliver" button does. Retries (5xx, 429, timeouts) are on when `retries` > 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from conduit.connectors.sandbox.faults import FaultSet
from conduit.connectors.sandbox.state import Clock, Sequence


class Signer(Protocol):
    """The headers for one attempt at a delivery, signed as the tracker signs them; `forge_with`
    signs with that secret instead of the real one (a forger's delivery, for tests)."""

    def __call__(self, delivery: Delivery, attempt: int, forge_with: str | None = None) -> dict[str, str]: ...


DELIVERY_TIMEOUT = 10.0  # trackers count a slower answer as a failed delivery


@dataclass
class Delivery:
    id: int
    guid: str
    event: str
    action: str | None
    url: str
    body: bytes
    signer: Signer = field(repr=False)
    created_at: float
    status: str = "pending"  # pending | delivered | failed | dropped
    attempts: int = 0
    response_status: int | None = None
    error: str | None = None
    redelivery_of: int | None = None
    sent_headers: dict[str, str] = field(default_factory=dict)

    def to_json(self, with_body: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "guid": self.guid,
            "event": self.event,
            "action": self.action,
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "response_status": self.response_status,
            "error": self.error,
            "redelivery_of": self.redelivery_of,
            "headers": self.sent_headers,
        }
        if with_body:
            data["body"] = self.body.decode("utf-8", "replace")
        return data


@functools.cache
def _tls() -> ssl.SSLContext:
    # Loading the CA bundle takes a noticeable fraction of a second; one context serves every sandbox.
    return httpx.create_ssl_context()


class Outbox:
    def __init__(self, clock: Clock, ids: Sequence, faults: FaultSet, retries: int = 0) -> None:
        self.clock = clock
        self.ids = ids
        self.faults = faults
        self.retries = retries
        self.retry_delay = 1.0
        self.retry_header: str | None = None
        # Send every delivery here instead of the registered URL (e.g. a receiver only tests know).
        self.rewrite_to: str | None = None
        self.deliveries: dict[int, Delivery] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Delivery] | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._early: list[Delivery] = []

    # -- lifecycle (runs in the server's loop) ------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT, verify=_tls())
        self._task = asyncio.create_task(self._run())
        with self._lock:
            early, self._early = self._early, []
        for delivery in early:
            self._queue.put_nowait(delivery)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()
        self._loop = self._queue = self._task = self._client = None

    # -- producing ----------------------------------------------------------------------------------
    def enqueue(
        self,
        event: str,
        action: str | None,
        url: str,
        body: bytes,
        signer: Signer,
        guid: str | None = None,
        redelivery_of: int | None = None,
    ) -> Delivery:
        delivery = Delivery(
            id=self.ids.next("delivery"),
            guid=guid or self.ids.guid("delivery"),
            event=event,
            action=action,
            url=url,
            body=body,
            signer=signer,
            created_at=self.clock.time(),
            redelivery_of=redelivery_of,
        )
        with self._lock:
            self.deliveries[delivery.id] = delivery
        if redelivery_of is None and self.faults.drops(event):
            delivery.status = "dropped"
            return delivery
        self._submit(delivery)
        return delivery

    def redeliver(self, delivery_id: int) -> Delivery | None:
        original = self.deliveries.get(delivery_id)
        if original is None:
            return None
        return self.enqueue(
            original.event,
            original.action,
            original.url,
            original.body,
            original.signer,
            guid=original.guid,
            redelivery_of=original.id,
        )

    def _submit(self, delivery: Delivery) -> None:
        loop, queue = self._loop, self._queue
        if loop is None or queue is None:
            with self._lock:
                self._early.append(delivery)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            queue.put_nowait(delivery)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, delivery)

    def list(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries.values())

    async def wait(self, delivery_id: int, seconds: float) -> Delivery | None:
        """Wait (server side) until a delivery is no longer pending, or `seconds` pass."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            delivery = self.deliveries.get(delivery_id)
            if delivery is None or delivery.status != "pending":
                return delivery
            if asyncio.get_running_loop().time() >= deadline:
                return delivery
            await asyncio.sleep(0.01)

    # -- sending ------------------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            delivery = await self._queue.get()
            try:
                await self._send(delivery)
            except Exception as exc:  # a broken delivery must never stop the ones behind it
                delivery.status = "failed"
                delivery.error = f"{type(exc).__name__}: {exc}"

    async def _send(self, delivery: Delivery) -> None:
        assert self._client is not None
        url = self.rewrite_to or delivery.url
        for attempt in range(self.retries + 1):
            headers = delivery.signer(delivery, attempt)
            if attempt and self.retry_header:
                headers[self.retry_header] = str(attempt)
            delivery.attempts += 1
            delivery.sent_headers = headers
            try:
                response = await self._client.post(url, content=delivery.body, headers=headers)
            except httpx.HTTPError as exc:
                kind = "timeout" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
                delivery.error, retryable = f"{kind}: {exc}", True
            else:
                delivery.response_status = response.status_code
                if response.is_success:
                    delivery.status, delivery.error = "delivered", None
                    return
                delivery.error = response.text[:200]
                retryable = response.status_code >= 500 or response.status_code == 429
            if not retryable or attempt == self.retries:
                break
            # Stays "pending" between attempts, so waiting on it waits for the final outcome.
            await asyncio.sleep(self.retry_delay * 2**attempt)
        delivery.status = "failed"
