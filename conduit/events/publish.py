"""Publishing catalog events: `events.publish` jobs hand each event to every subscriber.

`emit` writes an event into the outbox in the caller's transaction (conduit.events.emit). Once that
commits, an `events.publish` job calls every subscriber with the same `Published` event, in the
order they subscribed. The domains subscribe from their own job modules (webhook deliveries, live
subscriptions, ticket changes in trackers), so the core names none of them, and a new consumer of
events touches no emitter.

Events are published in batches. An organization's publish rows share a key (`publish_key`), so they
run one at a time, in order, and the job holding the key takes every due row queued behind it: under
load one job publishes many events instead of each paying a whole job cycle. A subscriber that can
handle many events at once subscribes with `subscribe_batch` (the webhook fan-out inserts a batch's
deliveries in a few statements); the others are called once per event. The rows taken are marked
done once every subscriber has seen them; should the job fail first, they stay waiting and the next
job publishes them again.

A subscriber must be idempotent: when one fails the job is retried, and every subscriber sees the
event again (the webhook fan-out creates nothing twice; live subscribers may see it twice).

The row is its own subject: an `events.publish` row carries the event itself, not ids to load, so
its handler is `publish(ctx)` and reads the event from the row (`Published.of`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import OutboxRow, OutboxState
from conduit.events import resources
from conduit.events.catalog import EVENT_TYPES, canonical
from conduit.events.emit import PUBLISH_KIND
from conduit.jobs import wakeup
from conduit.jobs.context import JobContext
from conduit.jobs.registry import job

Subscriber = Callable[[JobContext, "Published"], Awaitable[None]]
BatchSubscriber = Callable[[JobContext, Sequence["Published"]], Awaitable[None]]
_subscribers: list[Subscriber] = []
_batch_subscribers: list[BatchSubscriber] = []
# Rows read at a time from those queued behind a job.
MAX_BATCH = 500
# A job takes rows queued behind it for this long, then lets the next job go on; and stops taking
# while this many events still wait for the per-event subscribers, so it ends well within its timeout.
TAKE_SECONDS = 5.0
MAX_BACKLOG = 1000
# How often a job that is still calling per-event subscribers looks for new rows to fan out, when no
# commit in this process wakes it sooner.
POLL_SECONDS = 0.01
# How long a job that published more than one event waits for more once its subscribers are done: under
# a steady stream the next event is usually committed within it, and is published without a job
# cycle of its own (a claim and a start, each a write, and the dispatcher's wake-up).
LINGER_SECONDS = 0.1


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Call `subscriber(ctx, event)` for every published event (once, however often it is imported)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def subscribe_batch(subscriber: BatchSubscriber) -> BatchSubscriber:
    """Call `subscriber(ctx, events)` with every batch of published events, in the order emitted."""
    if subscriber not in _batch_subscribers:
        _batch_subscribers.append(subscriber)
    return subscriber


def subscribers() -> tuple[Subscriber, ...]:
    return tuple(_subscribers)


def batch_subscribers() -> tuple[BatchSubscriber, ...]:
    return tuple(_batch_subscribers)


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
        return cls.from_row(ctx.job_id, ctx.payload, ctx.organization_id)

    @classmethod
    def from_row(cls, row_id: int, payload: dict[str, Any], organization_id: int | None) -> Published | None:
        name = canonical(str(payload.get("type", "")))
        if name not in EVENT_TYPES or organization_id is None:
            return None
        occurred = payload.get("occurred_at")
        return cls(
            id=event_id_of(row_id),
            type=name,
            version=int(payload.get("version") or EVENT_TYPES[name].version),
            organization_id=organization_id,
            occurred_at=datetime.fromisoformat(occurred) if isinstance(occurred, str) else utcnow(),
            actor=dict(payload.get("actor") or {"type": "system"}),
            data=dict(payload.get("data") or {}),
        )

    async def resources(self, ctx: JobContext, session: AsyncSession | None = None) -> dict[str, Any] | None:
        """`data` with the rows it names loaded as resources; None when one is gone. Loaded once.

        A caller expanding many events passes its own session, so they share one connection.
        """
        if self._resources is _UNLOADED:
            if session is None:
                async with ctx.runtime.sessions() as own:
                    return await self._expand(ctx, own)
            return await self._expand(ctx, session)
        return self._resources

    async def _expand(self, ctx: JobContext, session: AsyncSession) -> dict[str, Any] | None:
        try:
            self._resources = await resources.expand(session, self.organization_id, self.type, self.data)
        except resources.ResourceGone as gone:
            ctx.log.info("event %s %s not sent: %s", self.type, self.id, gone)
            self._resources = None
        return self._resources


async def load_resources(ctx: JobContext, session: AsyncSession, events: Sequence[Published]) -> None:
    """Load the resources of many events at once (see `Published.resources`)."""
    todo = [e for e in events if e._resources is _UNLOADED]
    found = await resources.expand_many(session, [(e.organization_id, e.type, e.data) for e in todo])
    for event, loaded in zip(todo, found, strict=True):
        if isinstance(loaded, resources.ResourceGone):
            ctx.log.info("event %s %s not sent: %s", event.type, event.id, loaded)
            event._resources = None
        else:
            event._resources = loaded


@dataclass(frozen=True, slots=True)
class _Taken:
    row_id: int
    event: Published | None


async def _queued_behind(ctx: JobContext, after: int) -> list[_Taken]:
    """The due publish rows waiting behind row `after` under this job's key, in order, up to the first
    that is not due. Holding the key, this job is the only one that may run them now."""
    if ctx.key is None:
        return []
    now = utcnow()
    async with ctx.runtime.sessions() as session:
        rows = (
            await session.execute(
                select(
                    OutboxRow.id,
                    OutboxRow.kind,
                    OutboxRow.payload,
                    OutboxRow.organization_id,
                    OutboxRow.run_after,
                )
                .where(
                    OutboxRow.key == ctx.key,
                    OutboxRow.id > after,
                    OutboxRow.state == OutboxState.PENDING,
                )
                .order_by(OutboxRow.id)
                .limit(MAX_BATCH)
            )
        ).all()
    taken: list[_Taken] = []
    for row_id, kind, payload, organization_id, run_after in rows:
        if kind != PUBLISH_KIND or run_after > now:
            break
        taken.append(_Taken(row_id, Published.from_row(row_id, payload or {}, organization_id)))
    return taken


async def _settle(ctx: JobContext, taken: Sequence[_Taken]) -> None:
    """Mark the rows this job published for them done: only rows still waiting, which the key kept
    every other runner away from."""
    if not taken:
        return
    now = utcnow()
    async with ctx.runtime.sessions() as session:
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_([t.row_id for t in taken]), OutboxRow.state == OutboxState.PENDING)
            .values(state=OutboxState.DONE, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


class _PerEvent:
    """Calls the per-event subscribers, batch after batch, in a task of its own, and marks each batch's
    rows done once every subscriber has seen them."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.queue: asyncio.Queue[list[_Taken] | None] = asyncio.Queue()
        self.backlog = 0
        self.task = asyncio.create_task(self._run())

    def add(self, batch: list[_Taken]) -> None:
        self.backlog += len(batch)
        self.queue.put_nowait(batch)

    @property
    def idle(self) -> bool:
        return self.backlog == 0

    async def _run(self) -> None:
        while (batch := await self.queue.get()) is not None:
            for taken in batch:
                if taken.event is not None:
                    for subscriber in subscribers():
                        await subscriber(self.ctx, taken.event)
            await _settle(self.ctx, [t for t in batch if t.row_id != self.ctx.job_id])
            self.backlog -= len(batch)

    async def finish(self) -> None:
        self.queue.put_nowait(None)
        await self.task


@job(PUBLISH_KIND, max_tries=10, timeout=60)
async def publish(ctx: JobContext) -> None:
    """Publish the row's event and those queued behind it.

    Batch subscribers (the webhook fan-out) see each batch as soon as it is taken; the per-event
    subscribers run meanwhile in a task of their own, so rules or tracker changes that take a while
    per event never hold back the next batch's webhooks. While they run, and for `LINGER_SECONDS` after
    (when it published several events), the job keeps taking rows queued behind it, for `TAKE_SECONDS`
    at most.
    """
    event = Published.of(ctx)
    if event is None:
        ctx.log.warning(
            "event %r without a known type or organization: not published", ctx.payload.get("type")
        )
    started = time.monotonic()
    per_event = _PerEvent(ctx)
    # Rows emitted while this job runs wake it as soon as they are committed (in this process).
    emitted = wakeup.Signal(ctx.runtime.engine.sync_engine)
    batch = [_Taken(ctx.job_id, event), *await _queued_behind(ctx, ctx.job_id)]
    published = 0
    try:
        while True:
            events = [t.event for t in batch if t.event is not None]
            if events:
                for batch_subscriber in batch_subscribers():
                    await batch_subscriber(ctx, events)
            published += len(events)
            per_event.add(batch)
            after = batch[-1].row_id
            batch = []
            taken_at = time.monotonic()
            while not batch:
                now = time.monotonic()
                if per_event.task.done() or now - started > TAKE_SECONDS or per_event.backlog > MAX_BACKLOG:
                    break
                if per_event.idle and (published < 2 or now - taken_at >= LINGER_SECONDS):
                    break
                await emitted.wait(POLL_SECONDS)
                batch = await _queued_behind(ctx, after)
            if not batch:
                break
    except BaseException:
        per_event.task.cancel()
        raise
    finally:
        emitted.close()
    await per_event.finish()
    if published > 1:
        ctx.log.info("%d events published", published)
    elif event is not None:
        ctx.log.info("event %s published", event.type)
