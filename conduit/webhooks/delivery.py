"""One delivery attempt as a job: throttle, send, log the attempt, plan the next one, judge the endpoint.

The job is `deliver(ctx, delivery_id, attempts_before, trigger)`. `attempts_before` is how many
attempts the delivery had when this one was planned: if more exist when the job starts, the attempt
was already made (a re-run after a crash that followed the commit) and the job does nothing. A crash
before the commit sends again, with the same `webhook-id`, which receivers deduplicate on.

Scheduled attempts (first attempts and retries) are made by the endpoint's drain
(conduit.webhooks.drain), many per job; a job of its own makes a manual send, or an attempt queued
before drains existed.

Nothing here sleeps: a throttled endpoint's delivery is deferred with `Retry(defer=)` and the worker
takes other work, so one slow or failing endpoint never delays another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit import metrics
from conduit.db.base import UTCDateTime, utcnow
from conduit.db.models import (
    App,
    AppWebhookSecret,
    AttemptTrigger,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    OutboxRow,
    OutboxState,
)
from conduit.events.emit import emit
from conduit.ids import encode
from conduit.jobs.context import JobContext
from conduit.jobs.errors import Retry
from conduit.runtime import Resource, Runtime
from conduit.webhooks import fanout, sender, unseal
from conduit.webhooks.schedule import MAX_TIMEOUT, Outcome, next_delay, pause_for
from conduit.webhooks.throttle import Limits, LocalThrottle, Permit, RedisThrottle, Throttle, Wait

# Consecutive failed attempts before the owner hears of it (Svix' attempt.failing comes after 4).
FAILING_AFTER = 4
DISABLE_AFTER = timedelta(days=5)
# A job's own budget: the longest request an app may configure, and time to record the outcome.
JOB_TIMEOUT = MAX_TIMEOUT + 10
MAX_ERROR = 1024


def _make_client(runtime: Runtime) -> httpx.AsyncClient:
    return sender.make_client(allow_private=runtime.settings.allow_private_webhook_urls)


async def _close_client(client: httpx.AsyncClient) -> None:
    await client.aclose()


def _make_throttle(runtime: Runtime) -> Throttle:
    """Redis when configured (shared by every worker), else this process's memory (embedded)."""
    if runtime.settings.redis_url:
        from redis.asyncio import Redis

        return RedisThrottle(Redis.from_url(runtime.settings.redis_url))
    return LocalThrottle()


async def _close_throttle(throttle: Throttle) -> None:
    await throttle.close()


# The runtime's webhook client (guarded against private addresses) and throttle, closed with it.
CLIENT: Resource[httpx.AsyncClient] = Resource("the webhook client", _make_client, _close_client)
THROTTLE: Resource[Throttle] = Resource("the webhook throttle", _make_throttle, _close_throttle)


def client_for(runtime: Runtime) -> httpx.AsyncClient:
    return runtime.get(CLIENT)


def throttle_for(runtime: Runtime) -> Throttle:
    return runtime.get(THROTTLE)


def limits_of(app: App) -> Limits:
    return Limits(
        rate=app.rate_limit_per_second,
        period=1.0,
        max_in_flight=app.max_in_flight,
        lease=app.webhook_timeout + 10,
    )


def endpoint_resource(app: App) -> dict[str, Any]:
    return {"id": encode("App", app.id), "app_id": encode("App", app.id), "url": app.webhook_url or ""}


async def _finish(session: AsyncSession, delivery_id: int, error: str) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PENDING)
        .values(
            status=DeliveryStatus.FAILED,
            last_error=error[:MAX_ERROR],
            finished_at=utcnow(),
            next_attempt_at=None,
        )
        .execution_options(synchronize_session=False)
    )


async def disable_endpoint(session: AsyncSession, app: App, reason: str) -> bool:
    """Stop deliveries to the app's endpoint and say so; False if it was already disabled."""
    now = utcnow()
    won = await session.execute(
        update(App)
        .where(App.id == app.id, App.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if not won.rowcount:  # type: ignore[attr-defined]
        return False
    emit(
        session,
        "endpoint.disabled",
        app.organization_id,
        {"endpoint": endpoint_resource(app), "reason": reason, "disabled_at": now.isoformat()},
    )
    return True


async def _judge_failure(session: AsyncSession, app: App, error: str, now: datetime) -> None:
    result = await session.execute(
        update(App)
        .where(App.id == app.id)
        .values(
            consecutive_failures=App.consecutive_failures + 1,
            failing_since=func.coalesce(App.failing_since, literal(now, UTCDateTime())),
        )
        .returning(App.consecutive_failures, App.failing_since, App.failing_notified_at)
        .execution_options(synchronize_session=False)
    )
    failures, stored_since, notified = result.one()
    since: datetime = stored_since or now
    if failures >= FAILING_AFTER and notified is None:
        won = await session.execute(
            update(App)
            .where(App.id == app.id, App.failing_notified_at.is_(None))
            .values(failing_notified_at=now)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount:  # type: ignore[attr-defined]
            # Emitted in the owner's organization: their subscriptions and ops apps hear of it.
            emit(
                session,
                "endpoint.failing",
                app.organization_id,
                {
                    "endpoint": endpoint_resource(app),
                    "failed_attempts": failures,
                    "failing_since": since.isoformat(),
                    "disable_at": (since + DISABLE_AFTER).isoformat(),
                    "last_error": error[:MAX_ERROR],
                },
            )
    if now - since >= DISABLE_AFTER:
        await disable_endpoint(session, app, "failing")


async def _judge_success(session: AsyncSession, app: App) -> None:
    await session.execute(
        update(App)
        .where(App.id == app.id, (App.consecutive_failures > 0) | App.failing_since.is_not(None))
        .values(consecutive_failures=0, failing_since=None, failing_notified_at=None)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class Ready:
    """A delivery that may be sent now, with its endpoint, the keys that sign it and the bytes to send
    (the stored body with any sealed secret opened: conduit.webhooks.unseal)."""

    delivery: Delivery
    app: App
    secrets: list[str]
    body: bytes


async def signing_secrets(session: AsyncSession, runtime: Runtime, app_id: int) -> list[str]:
    """Every key that signs deliveries now, newest first."""
    now = utcnow()
    rows = await session.execute(
        select(AppWebhookSecret.secret_encrypted)
        .where(
            AppWebhookSecret.app_id == app_id,
            (AppWebhookSecret.expires_at.is_(None)) | (AppWebhookSecret.expires_at > now),
        )
        .order_by(AppWebhookSecret.id.desc())
    )
    return [runtime.secrets.decrypt(v) for v in rows.scalars()]


async def outgoing_body(session: AsyncSession, runtime: Runtime, delivery: Delivery) -> bytes:
    return await unseal.open_body(session, runtime.secrets, delivery.event_type, delivery.body)


async def _manual_attempt_made(session: AsyncSession, delivery_id: int, attempts_before: int) -> bool:
    found = await session.execute(
        select(DeliveryAttempt.id)
        .where(
            DeliveryAttempt.delivery_id == delivery_id,
            DeliveryAttempt.number > attempts_before,
            DeliveryAttempt.trigger == AttemptTrigger.MANUAL,
        )
        .limit(1)
    )
    return found.scalar_one_or_none() is not None


async def ready(
    session: AsyncSession,
    runtime: Runtime,
    delivery: Delivery | None,
    attempts_before: int,
    trigger: AttemptTrigger = AttemptTrigger.SCHEDULED,
) -> Ready | None:
    """The delivery if this attempt is still to be made; None when there is nothing to send.

    A manual send goes whatever the delivery's state: it may have been asked for while an earlier
    attempt was in flight, which then records its own outcome and moves the count on. So it is known
    as made only by a manual attempt logged after the count it was asked at.

    A delivery whose endpoint is gone or disabled is finished as failed here (the caller commits).
    """
    if delivery is None:
        return None  # pruned
    if trigger is AttemptTrigger.MANUAL:
        if await _manual_attempt_made(session, delivery.id, attempts_before):
            return None
    elif delivery.attempts > attempts_before or delivery.status is not DeliveryStatus.PENDING:
        return None  # this attempt was already made, or the delivery has ended
    app = await session.get(App, delivery.app_id)
    if app is None or app.deleted_at is not None or not app.webhook_url:
        await _finish(session, delivery.id, "not sent: the app or its webhook URL was removed")
        return None
    if app.disabled_at is not None:
        await _finish(session, delivery.id, f"not sent: the endpoint is disabled ({app.disabled_reason})")
        return None
    secrets = await signing_secrets(session, runtime, app.id)
    return Ready(delivery, app, secrets, await outgoing_body(session, runtime, delivery))


async def attempt(runtime: Runtime, item: Ready, permit: Permit) -> sender.AttemptResult:
    """Send once under a throttle permit, which is given back whatever happens."""
    throttle = throttle_for(runtime)
    try:
        result = await sender.send(
            client_for(runtime),
            item.app.webhook_url or "",
            item.delivery.msg_id,
            item.body,
            item.secrets,
            timeout_seconds=item.app.webhook_timeout,
        )
    finally:
        await throttle.release(permit)
    if result.outcome is Outcome.THROTTLE:
        await throttle.pause(str(item.app.id), pause_for(result.retry_after))
    return result


async def deliver(ctx: JobContext, delivery_id: int, attempts_before: int, trigger: str) -> Ready | None:
    """Make one attempt; returns the delivery when it was sent and accepted, else None."""
    runtime = ctx.runtime
    async with runtime.sessions() as session:
        found = await session.get(Delivery, delivery_id)
        item = await ready(session, runtime, found, attempts_before, AttemptTrigger(trigger))
        await session.commit()
    if item is None:
        return None
    permit = await throttle_for(runtime).acquire(str(item.app.id), limits_of(item.app))
    if isinstance(permit, Wait):
        # Another endpoint's work goes ahead meanwhile; this one comes back when a slot frees.
        raise Retry(defer=permit.seconds, reason=f"endpoint throttled ({permit.reason})")
    result = await attempt(runtime, item, permit)
    await record(runtime, item.app, item.delivery, attempts_before, AttemptTrigger(trigger), result)
    return item if result.succeeded else None


@dataclass(frozen=True, slots=True)
class Made:
    """An attempt that was made and is to be recorded."""

    app: App
    delivery: Delivery
    attempts_before: int
    trigger: AttemptTrigger
    result: sender.AttemptResult
    # A job of the attempt's own that another job made it for: settled in the same transaction, so
    # the attempt and its job's end are recorded together.
    outbox_row_id: int | None = None


async def record(
    runtime: Runtime,
    app: App,
    delivery: Delivery,
    attempts_before: int,
    trigger: AttemptTrigger,
    result: sender.AttemptResult,
) -> None:
    """Log the attempt and move the delivery on, in one transaction with the next attempt's job."""
    await record_all(runtime, [Made(app, delivery, attempts_before, trigger, result)])


async def record_all(runtime: Runtime, made: Sequence[Made]) -> None:
    """Record several attempts in one transaction: one commit for all of them."""
    async with runtime.sessions() as session:
        if all(_plain_success(one) for one in made):
            ended = await _record_successes(session, made)
        else:
            # An endpoint's health changes with the first success after a failure: later successes
            # in the same transaction have nothing to reset.
            healthy: set[int] = set()
            ended = []
            for one in made:
                ended.append(await _record(session, one, judged_healthy=one.app.id in healthy))
                if one.result.succeeded:
                    healthy.add(one.app.id)
                else:
                    healthy.discard(one.app.id)
        await session.commit()
    now = utcnow()
    for one, status in zip(made, ended, strict=True):
        if status is not None:
            metrics.WEBHOOK_DELIVERIES.labels(status.value).inc()
            latency = (now - one.delivery.created_at).total_seconds()
            metrics.WEBHOOK_DELIVERY_LATENCY.labels(status.value).observe(max(latency, 0.0))


def _plain_success(made: Made) -> bool:
    """A scheduled attempt that succeeded and settles no job of its own: what a drain mostly records."""
    return made.result.succeeded and made.trigger is AttemptTrigger.SCHEDULED and made.outbox_row_id is None


def _attempt_row(made: Made, number: int, next_at: datetime | None) -> dict[str, Any]:
    result = made.result
    return {
        "delivery_id": made.delivery.id,
        "app_id": made.app.id,
        "number": number,
        "trigger": made.trigger,
        "url": made.app.webhook_url or "",
        "started_at": result.started_at,
        "duration_ms": result.duration_ms,
        "status_code": result.status,
        "outcome": str(result.outcome),
        "response_excerpt": result.response_excerpt,
        "error": (result.error or None) and result.error[:MAX_ERROR],
        "next_attempt_at": next_at,
    }


async def _record_successes(session: AsyncSession, made: Sequence[Made]) -> list[DeliveryStatus | None]:
    """Record scheduled attempts that all succeeded in a few set-based statements: one UPDATE per
    (attempt count, status code) they share, one INSERT of their log rows, one health reset per app.

    The same guard as `_record`'s: an attempt whose delivery's count moved meanwhile is not won here,
    and goes the one-by-one way, which knows how to log it after a manual attempt recorded first.
    """
    now = utcnow()
    groups: dict[tuple[int, int | None], list[Made]] = {}
    for one in made:
        groups.setdefault((one.attempts_before, one.result.status), []).append(one)
    won: set[int] = set()
    for (before, status), group in groups.items():
        claimed = await session.execute(
            update(Delivery)
            .where(Delivery.id.in_([one.delivery.id for one in group]), Delivery.attempts == before)
            .values(
                attempts=before + 1,
                status=DeliveryStatus.SUCCEEDED,
                finished_at=now,
                next_attempt_at=None,
                last_status_code=status,
                last_error=None,
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        won.update(claimed.scalars())
    rows = [_attempt_row(one, one.attempts_before + 1, None) for one in made if one.delivery.id in won]
    if rows:
        await session.execute(insert(DeliveryAttempt), rows)
    for app in {one.app.id: one.app for one in made if one.delivery.id in won}.values():
        await _judge_success(session, app)
    ended: list[DeliveryStatus | None] = []
    for one in made:
        if one.delivery.id in won:
            ended.append(DeliveryStatus.SUCCEEDED)
        else:
            ended.append(await _record(session, one))
    return ended


async def _record(
    session: AsyncSession, made: Made, *, judged_healthy: bool = False
) -> DeliveryStatus | None:
    """Record one attempt; the status the delivery ended in, or None while it goes on (or another run
    recorded this attempt first)."""
    app, delivery, attempts_before, result = made.app, made.delivery, made.attempts_before, made.result
    now = utcnow()
    number = attempts_before + 1
    next_at: datetime | None = None
    values: dict[str, Any] = {"last_status_code": result.status, "last_error": result.error}
    if result.succeeded:
        values.update(status=DeliveryStatus.SUCCEEDED, finished_at=now, next_attempt_at=None)
    elif result.outcome is Outcome.DISABLE:
        values.update(status=DeliveryStatus.FAILED, finished_at=now, next_attempt_at=None)
    else:
        delay = next_delay(number, result.retry_after)
        if delay is None:
            values.update(status=DeliveryStatus.FAILED, finished_at=now, next_attempt_at=None)
        else:
            next_at = now + timedelta(seconds=delay)
            values.update(next_attempt_at=next_at)
    # One statement claims the attempt number and moves the delivery on; a run that finds the
    # count already moved lost the race to another run that recorded this attempt first. A manual
    # attempt takes the next number whatever the count is: an attempt that was in flight when it was
    # asked for may have been recorded meanwhile (ready() keeps it from being made twice).
    claim = update(Delivery).where(Delivery.id == delivery.id)
    if made.trigger is AttemptTrigger.MANUAL:
        claim = claim.values(attempts=Delivery.attempts + 1, **values)
    else:
        claim = claim.where(Delivery.attempts == attempts_before).values(attempts=number, **values)
    won = (
        await session.execute(claim.returning(Delivery.attempts).execution_options(synchronize_session=False))
    ).scalar_one_or_none()
    if won is None and made.trigger is AttemptTrigger.SCHEDULED:
        # The count may have moved because a manual attempt, asked for while this one was in flight,
        # was recorded first; this one is then still to be logged, after it.
        recorded = await session.execute(
            select(DeliveryAttempt.id)
            .where(
                DeliveryAttempt.delivery_id == delivery.id,
                DeliveryAttempt.number > attempts_before,
                DeliveryAttempt.trigger == AttemptTrigger.SCHEDULED,
            )
            .limit(1)
        )
        if recorded.scalar_one_or_none() is None and await _manual_attempt_made(
            session, delivery.id, attempts_before
        ):
            again = (
                update(Delivery)
                .where(Delivery.id == delivery.id)
                .values(attempts=Delivery.attempts + 1, **values)
                .returning(Delivery.attempts)
                .execution_options(synchronize_session=False)
            )
            won = (await session.execute(again)).scalar_one_or_none()
    if won is None:
        return None
    number = won
    session.add(DeliveryAttempt(**_attempt_row(made, number, next_at)))
    if result.succeeded:
        if not judged_healthy:
            await _judge_success(session, app)
    else:
        error = f"{result.error or 'failed'} from {app.webhook_url}"
        await _judge_failure(session, app, error, now)
        if result.outcome is Outcome.DISABLE:
            await disable_endpoint(session, app, "gone")
    if next_at is not None:
        # The endpoint's drain makes the retry once it falls due (conduit.webhooks.drain).
        fanout.wake(session, app.id, app.organization_id, next_at)
    if made.outbox_row_id is not None:
        await settle_row(session, made.outbox_row_id, now)
    status = values.get("status")
    return status if isinstance(status, DeliveryStatus) else None


async def settle_row(session: AsyncSession, row_id: int, now: datetime) -> None:
    """Mark a first attempt's job done when its attempt was made by the job ahead of it.

    Only a row still waiting is touched: its key keeps every runner away from it while the job ahead
    runs, so nothing else is deciding about it.
    """
    await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row_id, OutboxRow.state == OutboxState.PENDING)
        .values(state=OutboxState.DONE, finished_at=now)
        .execution_options(synchronize_session=False)
    )
