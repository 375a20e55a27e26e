"""One endpoint's first attempts, several per job: the job holding the endpoint's key sends the next ones.

First attempts to an endpoint are jobs sharing one key, so they run one at a time in event order, and
each would otherwise pay a whole job cycle (claim, start, run, settle, next claim) for one request.
After its own delivery succeeded, the job holding the key reads the next waiting first-attempt jobs
of that key in id order and makes their attempts itself, settling each one's job in the same
transaction that records its attempt. Order is kept: nothing else may run the key's later jobs while
this one holds it, and they are sent in id order, the order the runner itself would use.

The drain stops, leaving the rest to their own jobs, at the first of: `MAX_DRAINED` sent, the time
budget spent, the throttle saying wait (their own jobs then defer as usual), an attempt that failed
(a failing or slow endpoint gets no more than one request from this job), or a job that is not yet due.

Worker death loses nothing: a drained attempt is either recorded with its job settled, or neither,
and then its own job sends it (again, with the same `webhook-id`, should the crash come between the
request and the commit: receivers deduplicate on it).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import App, AttemptTrigger, Delivery, DeliveryStatus, OutboxRow, OutboxState
from conduit.jobs.context import JobContext
from conduit.jobs.outbox import ARGS
from conduit.jobs.registry import registry
from conduit.webhooks import delivery, fanout
from conduit.webhooks.throttle import Wait

MAX_DRAINED = 100  # attempts one job makes beyond its own
BATCH = 20  # waiting jobs read at a time
# Time after which no further attempt is started, counted from the end of the job's own attempt; and
# never past half the job's timeout, so a drain keeps its job clear of it.
BUDGET_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Waiting:
    """A first-attempt job queued behind the running one."""

    row_id: int
    delivery_id: int
    attempts_before: int
    trigger: AttemptTrigger


def _waiting(row: OutboxRow) -> Waiting | None:
    args = (row.payload or {}).get(ARGS)
    if not isinstance(args, list) or len(args) != 3:
        return None
    delivery_id, attempts_before, trigger = args
    if not isinstance(delivery_id, int) or not isinstance(attempts_before, int):
        return None
    try:
        return Waiting(row.id, delivery_id, attempts_before, AttemptTrigger(trigger))
    except ValueError:
        return None


async def next_waiting(
    session: AsyncSession, key: str, after_row_id: int, limit: int
) -> list[Waiting] | None:
    """The next waiting jobs of `key` after `after_row_id`, in order, up to the first that is not due.

    None when a job that cannot be drained comes first: it must run on its own before anything after it.
    """
    rows = (
        await session.execute(
            select(OutboxRow)
            .where(OutboxRow.key == key, OutboxRow.id > after_row_id, OutboxRow.state == OutboxState.PENDING)
            .order_by(OutboxRow.id)
            .limit(limit)
        )
    ).scalars()
    now = utcnow()
    out: list[Waiting] = []
    for row in rows:
        waiting = _waiting(row) if row.kind == fanout.DELIVER_KIND and row.run_after <= now else None
        if waiting is None:
            return out or None
        out.append(waiting)
    return out


def deadline_for(kind: str, job_started: float) -> float:
    """When a drain that starts now stops starting attempts, on the `time.monotonic()` clock."""
    spec = registry.get(kind)
    timeout = spec.timeout if spec is not None else delivery.JOB_TIMEOUT
    return min(time.monotonic() + BUDGET_SECONDS, job_started + timeout / 2)


async def _batch(
    session: AsyncSession, ctx: JobContext, first: delivery.Ready, after: int, limit: int
) -> tuple[list[Waiting], dict[int, Delivery], dict[int, bytes], delivery.Ready | None]:
    """The next waiting jobs, their deliveries and the bytes each sends, and the endpoint as it is now
    (None: stop sending)."""
    batch = await next_waiting(session, fanout.endpoint_key(first.app.id), after, limit)
    if not batch:
        return [], {}, {}, None
    app = await session.get(App, first.app.id)
    if app is None or app.deleted_at is not None or not app.webhook_url or app.disabled_at is not None:
        return [], {}, {}, None  # their own jobs settle them as the endpoint now requires
    found = {
        d.id: d
        for d in (
            await session.execute(select(Delivery).where(Delivery.id.in_([w.delivery_id for w in batch])))
        ).scalars()
    }
    secrets = await delivery.signing_secrets(session, ctx.runtime, app.id)
    bodies = {d_id: await delivery.outgoing_body(session, ctx.runtime, d) for d_id, d in found.items()}
    return batch, found, bodies, delivery.Ready(first.delivery, app, secrets, first.body)


def _sendable(d: Delivery | None, waiting: Waiting) -> bool:
    return d is not None and d.status is DeliveryStatus.PENDING and d.attempts == waiting.attempts_before


async def drain(ctx: JobContext, first: delivery.Ready, started: float) -> int:
    """Send the first attempts queued behind this job's own; returns how many were made.

    Attempts are recorded while the next requests are under way, those made meanwhile together in
    one commit: requests still start in order, one at a time, and the database's time is hidden
    behind the endpoint's. A crash can lose the records of the attempts not yet committed; their
    jobs then send them again, under the same `webhook-id`.
    """
    runtime = ctx.runtime
    throttle = delivery.throttle_for(runtime)
    limits = delivery.limits_of(first.app)
    deadline = deadline_for(ctx.kind, started)
    after = ctx.job_id
    sent = 0
    # Attempts made while the previous ones are being written: they share the next commit.
    made: list[delivery.Made] = []
    recording: asyncio.Task[None] | None = None
    try:
        while sent < MAX_DRAINED:
            async with runtime.sessions() as session:
                batch, found, bodies, endpoint = await _batch(
                    session, ctx, first, after, min(BATCH, MAX_DRAINED - sent)
                )
            if endpoint is None:
                return sent
            for waiting in batch:
                if time.monotonic() >= deadline:
                    return sent
                d = found.get(waiting.delivery_id)
                if not _sendable(d, waiting):
                    # Nothing to send (already sent or pruned): its job is over.
                    async with runtime.sessions() as session:
                        await delivery.settle_row(session, waiting.row_id, utcnow())
                        await session.commit()
                    after = waiting.row_id
                    continue
                assert d is not None
                permit = await throttle.acquire(str(endpoint.app.id), limits)
                if isinstance(permit, Wait):
                    return sent  # its own job asks again and defers as the throttle says
                item = delivery.Ready(d, endpoint.app, endpoint.secrets, bodies[d.id])
                result = await delivery.attempt(runtime, item, permit)
                made.append(
                    delivery.Made(
                        item.app,
                        item.delivery,
                        waiting.attempts_before,
                        waiting.trigger,
                        result,
                        outbox_row_id=waiting.row_id,
                    )
                )
                if recording is None or recording.done():
                    if recording is not None:
                        await recording  # its error, if any, ends the drain
                    recording = asyncio.create_task(delivery.record_all(runtime, made))
                    made = []
                sent += 1
                after = waiting.row_id
                if not result.succeeded:
                    return sent
        return sent
    finally:
        # Shielded: a job cancelled now still records the attempts it already made.
        if recording is not None:
            await asyncio.shield(recording)
        if made:
            await asyncio.shield(delivery.record_all(runtime, made))


async def run(ctx: JobContext, delivery_id: int, attempts_before: int, trigger: str) -> None:
    """The delivery job: its own attempt, then, holding the endpoint's key, the ones queued behind it."""
    started = time.monotonic()
    sent = await delivery.deliver(ctx, delivery_id, attempts_before, trigger)
    if sent is not None and ctx.key == fanout.endpoint_key(sent.app.id):
        more = await drain(ctx, sent, started)
        if more:
            ctx.log.debug("made %d later first attempts to app %s", more, sent.app.id)
