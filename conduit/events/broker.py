"""Live events for GraphQL subscriptions: in process when embedded, across processes over Redis.

The broker subscribes to published events (conduit.events.publish) and publishes each once, with any
secret sealed for an app redacted. Embedded, the publishing job runs in the API process
and hands the event straight to its subscribers. Distributed, the job runs in any worker and
publishes on a Redis channel; every API process listens on it with one connection and hands each
message to its own subscribers. Redis pub/sub is fire-and-forget, which suits live views; the
durable road for the same events is the webhook delivery log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis

from conduit.events import sealed
from conduit.events.publish import Published, subscribe
from conduit.jobs.context import JobContext
from conduit.runtime import Resource, Runtime

log = logging.getLogger("conduit.events.broker")
CHANNEL = "conduit:events"
QUEUE_SIZE = 1000  # per subscriber; a client this far behind loses the oldest events, not the server


@dataclass(frozen=True, slots=True)
class LiveEvent:
    id: str
    type: str
    version: int
    organization_id: int
    occurred_at: str
    data: dict[str, Any]
    actor: dict[str, Any]

    def dumps(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "type": self.type,
                "version": self.version,
                "organization_id": self.organization_id,
                "occurred_at": self.occurred_at,
                "data": self.data,
                "actor": self.actor,
            }
        )

    @classmethod
    def loads(cls, raw: bytes | str) -> LiveEvent:
        d = orjson.loads(raw)
        return cls(
            str(d["id"]),
            str(d["type"]),
            int(d["version"]),
            int(d["organization_id"]),
            str(d["occurred_at"]),
            dict(d["data"]),
            dict(d["actor"]),
        )


class Broker(Protocol):
    # False when nobody can be listening: an event then costs no resource loading.
    @property
    def listening(self) -> bool: ...

    async def publish(self, event: LiveEvent) -> None: ...

    def subscribe(self) -> AsyncIterator[LiveEvent]: ...

    async def close(self) -> None: ...


class LocalHub:
    """Subscribers of this process; each gets its own bounded queue."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[LiveEvent]] = set()

    def deliver(self, event: LiveEvent) -> None:
        for queue in list(self._queues):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[LiveEvent]:
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._queues)


class LocalBroker:
    def __init__(self) -> None:
        self.hub = LocalHub()

    @property
    def listening(self) -> bool:
        return self.hub.subscribers > 0

    async def publish(self, event: LiveEvent) -> None:
        self.hub.deliver(event)

    def subscribe(self) -> AsyncIterator[LiveEvent]:
        return self.hub.subscribe()

    async def close(self) -> None:
        return None


class RedisBroker:
    """Publishes to Redis; the first local subscriber starts this process's single listener."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self.redis: Redis = Redis.from_url(url)
        self.channel = channel
        self.hub = LocalHub()
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def listening(self) -> bool:
        # Subscribers of other processes listen through Redis, unseen from here.
        return True

    async def publish(self, event: LiveEvent) -> None:
        await self.redis.publish(self.channel, event.dumps())

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._ready.set()
                    delay = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            try:
                                self.hub.deliver(LiveEvent.loads(message["data"]))
                            except (KeyError, TypeError, ValueError) as exc:
                                log.warning("dropped a malformed event message: %s", exc)
            except (ConnectionError, OSError) as exc:
                # Redis went away: live subscribers miss events meanwhile, and get them again after.
                log.warning("event channel lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def ready(self) -> None:
        """Wait until this process listens on the channel (events published before are not seen)."""
        self._ensure_listener()
        await self._ready.wait()

    def _ensure_listener(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="conduit-event-listener")

    async def subscribe(self) -> AsyncIterator[LiveEvent]:
        self._ensure_listener()
        async for event in self.hub.subscribe():
            yield event

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.redis.aclose()


def _make_broker(runtime: Runtime) -> Broker:
    url = runtime.settings.redis_url
    return RedisBroker(url) if url else LocalBroker()


async def _close_broker(broker: Broker) -> None:
    await broker.close()


# One broker per runtime: its Redis connection and listener are closed with the runtime.
BROKER: Resource[Broker] = Resource("the live event broker", _make_broker, _close_broker)


def broker_for(runtime: Runtime) -> Broker:
    """This process's broker for the runtime, made on first use."""
    return runtime.get(BROKER)


@subscribe
async def publish_live(ctx: JobContext, event: Published) -> None:
    """Hand a published event to live subscribers, with its resources, secrets redacted."""
    broker = broker_for(ctx.runtime)
    if not broker.listening:
        return
    data = await event.resources(ctx)
    if data is None:
        return
    live = LiveEvent(
        event.id,
        event.type,
        event.version,
        event.organization_id,
        event.occurred_at.isoformat(),
        # A secret sealed for the app is not for the organization's live subscribers.
        sealed.redact(event.type, data),
        event.actor,
    )
    await broker.publish(live)
