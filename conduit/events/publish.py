"""Publishing catalog events: the `events.publish` job hands each event to every subscriber.

`emit` writes an event into the outbox in the caller's transaction (conduit.events.emit). Once that
commits, the `events.publish` job calls every subscriber with the same `Published` event, in the
order they subscribed. The domains subscribe from their own job modules (webhook deliveries, live
subscriptions, ticket changes in trackers), so the core names none of them, and a new consumer of
events touches no emitter.

A subscriber must be idempotent: when one fails the job is retried, and every subscriber sees the
event again (the webhook fan-out creates nothing twice; live subscribers may see it twice).

The row is its own subject: an `events.publish` row carries the event itself, not ids to load, so
its handler is `publish(ctx)` and reads the event from the row (`Published.of`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conduit.db.base import utcnow
from conduit.events import resources
from conduit.events.catalog import EVENT_TYPES, canonical
from conduit.events.emit import PUBLISH_KIND
from conduit.jobs.context import JobContext
from conduit.jobs.registry import job

Subscriber = Callable[[JobContext, "Published"], Awaitable[None]]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Call `subscriber(ctx, event)` for every published event (once, however often it is imported)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def subscribers() -> tuple[Subscriber, ...]:
    return tuple(_subscribers)


def event_id_of(job_id: int) -> str:
    """The event's id: its outbox row's, so the same on every retry."""
    return f"evt_{job_id}"


_UNLOADED: Any = object()


@dataclass
class Published:
    """One event being published. `type` is its current name, even if emitted under a deprecated one."""

    id: str
    type: str
    version: int
    organization_id: int
    occurred_at: datetime
    actor: dict[str, Any]
    # As emitted: ids of the rows it concerns (see conduit.events.resources).
    data: dict[str, Any]
    _resources: Any = field(default=_UNLOADED, repr=False)

    @classmethod
    def of(cls, ctx: JobContext) -> Published | None:
        """The event an `events.publish` row carries; None without a known type or an organization."""
        payload = ctx.payload
        name = canonical(str(payload.get("type", "")))
        if name not in EVENT_TYPES or ctx.organization_id is None:
            return None
        occurred = payload.get("occurred_at")
        return cls(
            id=event_id_of(ctx.job_id),
            type=name,
            version=int(payload.get("version") or EVENT_TYPES[name].version),
            organization_id=ctx.organization_id,
            occurred_at=datetime.fromisoformat(occurred) if isinstance(occurred, str) else utcnow(),
            actor=dict(payload.get("actor") or {"type": "system"}),
            data=dict(payload.get("data") or {}),
        )

    async def resources(self, ctx: JobContext) -> dict[str, Any] | None:
        """`data` with the rows it names loaded as resources; None when one is gone. Loaded once."""
        if self._resources is _UNLOADED:
            async with ctx.runtime.sessions() as session:
                try:
                    self._resources = await resources.expand(
                        session, self.organization_id, self.type, self.data
                    )
                except resources.ResourceGone as gone:
                    ctx.log.info("event %s %s not sent: %s", self.type, self.id, gone)
                    self._resources = None
        return self._resources


@job(PUBLISH_KIND, max_tries=10, timeout=30)
async def publish(ctx: JobContext) -> None:
    event = Published.of(ctx)
    if event is None:
        ctx.log.warning(
            "event %r without a known type or organization: not published", ctx.payload.get("type")
        )
        return
    ctx.log.info("event %s published", event.type)
    for subscriber in subscribers():
        await subscriber(ctx, event)
