"""One endpoint's deliveries, many per job: the drain.

The fan-out writes deliveries due now and queues a drain of each endpoint that got any
(`fanout.kick`); a failed attempt's retry is due later and queues one then (`fanout.wake`). Drains of
one endpoint share its key, so they run one at a time. A drain reads the endpoint's due deliveries in
id order and sends them, then reads again, until none is due or it stops (below); attempts are recorded
while the next requests are under way, those made meanwhile together in one commit.

Two ways to send, as the app chooses:

- concurrent (the default): up to the app's `max_in_flight` requests at once; a delivery whose attempt
  failed waits for its retry while the others go on.
- FIFO (`App.fifo`): one request at a time, oldest delivery first, and a delivery waiting for its retry
  holds back every later one until it succeeds or runs out of attempts.

A drain stops starting requests at the first of: nothing due (after a short wait, for a busy
endpoint), `MAX_ATTEMPTS` made, its time budget spent, the throttle saying wait (it queues its
successor for when the throttle allows), or (concurrent) an attempt that failed, after which it waits
`FAILURE_PAUSE` before it tries the endpoint again, so a failing endpoint is not sent its whole
backlog at once. It waits for the requests it started, records them, and then, in one transaction,
marks the drains queued behind it done (it has seen everything they were queued for) and queues a
successor if anything is still due.

Only deliveries with a `next_attempt_at` are the drain's: a manual send (redelivery, recovery, test
event) has a job of its own (`fanout.schedule`) and no scheduled time, so nothing sends it twice.

Worker death loses nothing: a delivery is pending until its attempt is recorded, and the drain's row
comes back when its lease runs out; an attempt made but not yet recorded is sent again, with the same
`webhook-id`, which receivers deduplicate on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import App, AttemptTrigger, Delivery, DeliveryStatus, OutboxRow, OutboxState
from conduit.jobs import wakeup
from conduit.jobs.context import JobContext
from conduit.jobs.outbox import ARGS
from conduit.jobs.registry import registry
from conduit.runtime import Runtime
from conduit.webhooks import delivery, fanout
from conduit.webhooks.throttle import Permit, Wait

MAX_ATTEMPTS = 500  # attempts one drain starts before it hands over to its successor
BATCH = 100  # due deliveries read at a time
# Time after which no further request is started, counted from the job's start; and never past half
# the job's timeout, so a drain keeps its job clear of it.
BUDGET_SECONDS = 2.0
# After a failed attempt, how long the endpoint gets no new request from the drains (concurrent mode).
FAILURE_PAUSE = 1.0
# A drain that finds nothing due waits this long for more before it ends, if it found more than one
# delivery to send (a busy endpoint): under a steady stream of events the next delivery is usually
# written within it, and is sent without waiting for a job cycle (a hand-over, a claim and a start,
# each a write). It looks again as soon as a commit in this process writes outbox rows (the fan-out's
# commit does: it queues a drain), and every `POLL_SECONDS` for commits elsewhere. A drain of a quiet
# endpoint ends at once, so many endpoints do not hold many runners idle.
POLL_SECONDS = 0.01
LINGER_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Stop:
    """Why a drain stopped starting requests; `after` is when its successor may run (None: at once,
    if anything is still due then)."""

    reason: str
    after: float | None = None


def deadline_for(kind: str, job_started: float) -> float:
    """When a drain that started at `job_started` stops starting requests (`time.monotonic()` clock)."""
    spec = registry.get(kind)
    timeout = spec.timeout if spec is not None else delivery.JOB_TIMEOUT
    return min(job_started + BUDGET_SECONDS, job_started + timeout / 2)


def _owned() -> list[object]:
    """The deliveries the drains send: pending, with a scheduled time."""
    return [Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at.is_not(None)]


async def _due(session: AsyncSession, app: App, skip: set[int], limit: int) -> list[Delivery]:
    """The endpoint's deliveries to send now, in id order, leaving out those this drain already sent.

    FIFO: only the oldest of the endpoint's deliveries, and only if it is due.
    """
    query = select(Delivery).where(Delivery.app_id == app.id, *_owned())  # type: ignore[arg-type]
    if skip:
        query = query.where(Delivery.id.not_in(skip))
    if app.fifo:
        head = (await session.execute(query.order_by(Delivery.id).limit(1))).scalars().first()
        due = head is not None and head.next_attempt_at is not None and head.next_attempt_at <= utcnow()
        return [head] if due and head is not None else []
    query = query.where(Delivery.next_attempt_at <= utcnow()).order_by(Delivery.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def _anything_due(session: AsyncSession, app_id: int) -> bool:
    app = await session.get(App, app_id)
    if app is None:
        return False
    return bool(await _due(session, app, set(), 1))


async def _fail_all(session: AsyncSession, app_id: int, error: str) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.app_id == app_id, *_owned())  # type: ignore[arg-type]
        .values(status=DeliveryStatus.FAILED, last_error=error, finished_at=utcnow(), next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )


def _is_drain(row: OutboxRow, app_id: int) -> bool:
    args = (row.payload or {}).get(ARGS)
    return row.kind == fanout.DELIVER_KIND and args == [app_id]


async def _waiting_behind(session: AsyncSession, ctx: JobContext) -> list[OutboxRow]:
    """The rows of this drain's key queued behind it: held back while it runs."""
    found = await session.execute(
        select(OutboxRow).where(
            OutboxRow.key == ctx.key, OutboxRow.id > ctx.job_id, OutboxRow.state == OutboxState.PENDING
        )
    )
    return list(found.scalars())


async def _hand_over(ctx: JobContext, app_id: int, stop: Stop | None) -> None:
    """Mark done the drains queued behind this one, and queue a successor if anything is still due.

    Rows of this key still waiting are held back by this running job, so nothing else is deciding
    about them. Their deliveries were committed with them, so the check for due deliveries, made
    after they are read, sees every delivery they were queued for.
    """
    key = ctx.key
    assert key is not None
    async with ctx.runtime.sessions() as session:
        covered = [row.id for row in await _waiting_behind(session, ctx) if _is_drain(row, app_id)]
        now = utcnow()
        # Whoever owns the endpoint owns its drains (the app's owner).
        owner = ctx.organization_id
        if covered:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(covered), OutboxRow.state == OutboxState.PENDING)
                .values(state=OutboxState.DONE, finished_at=now)
                .execution_options(synchronize_session=False)
            )
        if owner is not None and await _anything_due(session, app_id):
            later = stop.after if stop is not None and stop.after else 0.0
            fanout.kick(session, app_id, owner, now + timedelta(seconds=later) if later else None)
        await session.commit()


class _Recorder:
    """Records attempts in the background, one commit at a time, each taking every attempt made
    while the one before was being written. `unrecorded` holds the deliveries whose attempt is made
    but not yet written: still pending in the database, they are not to be sent again meanwhile."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.unrecorded: set[int] = set()
        self._made: list[delivery.Made] = []
        self._task: asyncio.Task[None] | None = None
        # The first write that failed: the drain stops, and the job fails with it once the attempts
        # still held are written (or not); unrecorded deliveries stay pending and are sent again.
        self.error: BaseException | None = None

    def sending(self, delivery_id: int) -> None:
        self.unrecorded.add(delivery_id)

    def add(self, made: delivery.Made) -> None:
        self._made.append(made)
        if self._task is None or self._task.done():
            self._take_error()
            self._task = asyncio.create_task(self._write())

    def _take_error(self) -> None:
        task = self._task
        if task is not None and task.done() and not task.cancelled() and task.exception() is not None:
            self.error = self.error or task.exception()

    async def _write(self) -> None:
        while self._made:
            batch, self._made = self._made, []
            await delivery.record_all(self.runtime, batch)
            self.unrecorded.difference_update(one.delivery.id for one in batch)

    async def close(self) -> None:
        """Wait for everything added to be recorded; an error in any write is raised here."""
        while self._task is not None:
            task = self._task
            await asyncio.shield(asyncio.wait([task]))
            self._take_error()
            if self._task is task:
                self._task = None
        if self._made:
            batch, self._made = self._made, []
            try:
                await asyncio.shield(delivery.record_all(self.runtime, batch))
            except Exception as exc:
                self.error = self.error or exc
        if self.error is not None:
            raise self.error


async def drain(ctx: JobContext, app_id: int) -> int:
    """Send the endpoint's due deliveries; returns how many attempts were made."""
    runtime = ctx.runtime
    started = time.monotonic()
    deadline = deadline_for(ctx.kind, started)
    async with runtime.sessions() as session:
        app = await session.get(App, app_id)
        if app is None or app.deleted_at is not None or not app.webhook_url:
            await _fail_all(session, app_id, "not sent: the app or its webhook URL was removed")
            app = None
        elif app.disabled_at is not None:
            await _fail_all(session, app_id, f"not sent: the endpoint is disabled ({app.disabled_reason})")
            app = None
        secrets = [] if app is None else await delivery.signing_secrets(session, runtime, app.id)
        await session.commit()
    if app is None:
        await _hand_over(ctx, app_id, None)
        return 0
    throttle = delivery.throttle_for(runtime)
    limits = delivery.limits_of(app)
    cap = 1 if app.fifo else max(app.max_in_flight, 1)
    recorder = _Recorder(runtime)
    in_flight: set[asyncio.Task[bool]] = set()
    sent = 0
    stop: Stop | None = None

    async def one(item: delivery.Ready, permit: Permit) -> bool:
        result = await delivery.attempt(runtime, item, permit)
        recorder.add(
            delivery.Made(item.app, item.delivery, item.delivery.attempts, AttemptTrigger.SCHEDULED, result)
        )
        return result.succeeded

    async def settle_some(wait_all: bool = False) -> bool:
        """Wait for one request to end (or all); False if any that ended had failed."""
        nonlocal in_flight
        if not in_flight:
            return True
        done, pending = await asyncio.wait(
            in_flight, return_when=asyncio.ALL_COMPLETED if wait_all else asyncio.FIRST_COMPLETED
        )
        in_flight = set(pending)
        return all(task.result() for task in done)

    async def settle_or_more() -> bool:
        """Wait for one request to end, or for new deliveries to be committed; False if a request
        that ended had failed."""
        nonlocal in_flight
        more = asyncio.ensure_future(written.wait(max(deadline - time.monotonic(), POLL_SECONDS)))
        try:
            done, _ = await asyncio.wait({*in_flight, more}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            more.cancel()
        ended = done & in_flight
        in_flight = in_flight - ended
        return all(task.result() for task in ended)

    def failed() -> Stop:
        # FIFO: the failed delivery holds the line until its retry, which wakes the endpoint.
        return Stop("failed", None if app.fifo else FAILURE_PAUSE)

    idle_since: float | None = None
    written = wakeup.Signal(runtime.engine.sync_engine)
    try:
        while stop is None:
            async with runtime.sessions() as session:
                batch = await _due(session, app, recorder.unrecorded, BATCH)
                bodies = [await delivery.outgoing_body(session, runtime, d) for d in batch]
            if not batch:
                if not in_flight:
                    now = time.monotonic()
                    idle_since = idle_since or now
                    if sent < 2 or now - idle_since >= LINGER_SECONDS or now >= deadline:
                        break
                    await written.wait(POLL_SECONDS)
                    continue
                # Look again once a request ends or more deliveries are written, whichever comes first.
                if not await settle_or_more():
                    stop = failed()
                continue
            idle_since = None
            for d, body in zip(batch, bodies, strict=True):
                while len(in_flight) >= cap and stop is None:
                    if not await settle_some():
                        stop = failed()
                if stop is not None:
                    break
                if time.monotonic() >= deadline or sent >= MAX_ATTEMPTS or recorder.error:
                    stop = Stop("budget")
                    break
                permit = await throttle.acquire(str(app.id), limits)
                while isinstance(permit, Wait) and permit.reason == "in_flight" and in_flight:
                    # Our own requests hold the slots (or share them with a manual send's): wait for one.
                    if not await settle_some():
                        stop = failed()
                        break
                    permit = await throttle.acquire(str(app.id), limits)
                if stop is not None:
                    if isinstance(permit, Permit):
                        await throttle.release(permit)
                    break
                if isinstance(permit, Wait):
                    stop = Stop(permit.reason, permit.seconds)
                    break
                sent += 1
                recorder.sending(d.id)
                item = delivery.Ready(d, app, secrets, body)
                in_flight.add(asyncio.create_task(one(item, permit)))
                if app.fifo and not await settle_some(wait_all=True):
                    stop = failed()
                    break
        if in_flight and not await settle_some(wait_all=True) and stop is None:
            stop = failed()
    finally:
        written.close()
        if in_flight:
            # Cut short (the job's timeout, the process stopping): requests under way are abandoned,
            # to be sent again under the same webhook-id; those that ended are still recorded.
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
        await recorder.close()
    await _hand_over(ctx, app_id, stop)
    return sent


async def run(ctx: JobContext, *args: int | str) -> None:
    """The delivery job.

    `(app_id)` with the endpoint's key: drain the endpoint. `(app_id)` without a key: a retry fell due;
    queue a drain behind whatever the endpoint has queued. `(delivery_id, attempts_before, trigger)`:
    one attempt of one delivery (a manual send, or a job queued before drains existed).
    """
    if len(args) == 1 and isinstance(args[0], int):
        app_id = args[0]
        if ctx.key == fanout.endpoint_key(app_id):
            made = await drain(ctx, app_id)
            if made:
                ctx.log.debug("made %d attempts to app %s", made, app_id)
            return
        async with ctx.runtime.sessions() as session:
            app = await session.get(App, app_id)
            if app is not None:
                fanout.kick(session, app_id, app.organization_id)
            await session.commit()
        return
    if len(args) == 3:
        delivery_id, attempts_before, trigger = args
        if isinstance(delivery_id, int) and isinstance(attempts_before, int) and isinstance(trigger, str):
            await delivery.deliver(ctx, delivery_id, attempts_before, trigger)
            return
    ctx.log.warning("delivery job with unexpected arguments %r: nothing to do", list(args))


__all__: Sequence[str] = ("deadline_for", "drain", "run")
