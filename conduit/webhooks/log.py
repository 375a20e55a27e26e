"""The delivery log: listing deliveries and attempts, endpoint health and its series, re-sending, pruning.

Every query here is scoped where it is built: by the app's owner (`owner_organization_id`) or by the
installing organization (`organization_id`), never by an id alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Select, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import App, Delivery, DeliveryAttempt, DeliveryStatus
from conduit.db.series import Grid, percentiles
from conduit.runtime import Runtime
from conduit.webhooks import fanout

RETENTION = timedelta(days=30)
PRUNE_BATCH = 2000
HEALTH_SAMPLE = 10_000  # latency percentiles are computed over at most this many recent attempts


class Outcome(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Filters:
    event_types: Sequence[str] = ()
    outcome: Outcome | None = None
    since: datetime | None = None
    until: datetime | None = None


def filtered(stmt: Select[Delivery], f: Filters) -> Select[Delivery]:
    if f.event_types:
        stmt = stmt.where(Delivery.event_type.in_(list(f.event_types)))
    if f.outcome is not None:
        stmt = stmt.where(Delivery.status == DeliveryStatus(f.outcome.value))
    if f.since is not None:
        stmt = stmt.where(Delivery.created_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(Delivery.created_at < f.until)
    return stmt


def for_app(owner_id: int, app_id: int) -> Select[Delivery]:
    return select(Delivery).where(Delivery.owner_organization_id == owner_id, Delivery.app_id == app_id)


def owned_delivery(owner_id: int, delivery_id: int) -> Select[Delivery]:
    return select(Delivery).where(Delivery.owner_organization_id == owner_id, Delivery.id == delivery_id)


def for_installation(organization_id: int, installation_id: int) -> Select[Delivery]:
    return select(Delivery).where(
        Delivery.organization_id == organization_id, Delivery.installation_id == installation_id
    )


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[int]) -> dict[int, list[DeliveryAttempt]]:
    out: dict[int, list[DeliveryAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return out
    rows = await session.execute(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.number)
    )
    for attempt in rows.scalars():
        out[attempt.delivery_id].append(attempt)
    return out


@dataclass(frozen=True)
class Health:
    window: timedelta
    deliveries: int
    succeeded: int
    failed: int
    pending: int
    attempts: int
    success_rate: float | None  # of finished deliveries; None when none finished
    p50_ms: float | None
    p95_ms: float | None
    last_error: str | None
    last_error_at: datetime | None


def percentile(sorted_values: Sequence[int], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), round(q * len(sorted_values) + 0.5)))
    return float(sorted_values[rank - 1])


async def health(session: AsyncSession, app: App, window: timedelta) -> Health:
    since = utcnow() - window
    counts = dict(
        (DeliveryStatus(s), int(n))
        for s, n in await session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.app_id == app.id, Delivery.created_at >= since, Delivery.test.is_(False))
            .group_by(Delivery.status)
        )
    )
    durations = sorted(
        int(d)
        for d in (
            await session.execute(
                select(DeliveryAttempt.duration_ms)
                .where(DeliveryAttempt.app_id == app.id, DeliveryAttempt.started_at >= since)
                .order_by(DeliveryAttempt.started_at.desc())
                .limit(HEALTH_SAMPLE)
            )
        ).scalars()
    )
    last = (
        await session.execute(
            select(DeliveryAttempt.error, DeliveryAttempt.started_at)
            .where(
                DeliveryAttempt.app_id == app.id,
                DeliveryAttempt.started_at >= since,
                DeliveryAttempt.outcome != "success",
            )
            .order_by(DeliveryAttempt.started_at.desc(), DeliveryAttempt.id.desc())
            .limit(1)
        )
    ).one_or_none()
    succeeded = counts.get(DeliveryStatus.SUCCEEDED, 0)
    failed = counts.get(DeliveryStatus.FAILED, 0)
    finished = succeeded + failed
    return Health(
        window=window,
        deliveries=sum(counts.values()),
        succeeded=succeeded,
        failed=failed,
        pending=counts.get(DeliveryStatus.PENDING, 0),
        attempts=len(durations),
        success_rate=None if not finished else succeeded / finished,
        p50_ms=percentile(durations, 0.5),
        p95_ms=percentile(durations, 0.95),
        last_error=None if last is None else last[0],
        last_error_at=None if last is None else last[1],
    )


@dataclass(frozen=True, slots=True)
class Point:
    """The attempts at an app's endpoint that started in one bucket, test events' included."""

    start: datetime
    attempts: int
    failures: int  # attempts not answered with success
    p50_ms: float | None
    p95_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.failures / self.attempts if self.attempts else 0.0


async def health_series(session: AsyncSession, owner_id: int, app_id: int, grid: Grid) -> list[Point]:
    """Attempts per bucket of `grid`; attempts carry no tenant, so the app is matched with its owner."""
    owned = select(App.id).where(App.id == app_id, App.organization_id == owner_id).scalar_subquery()
    where = [DeliveryAttempt.app_id == owned]
    bucket = grid.bucket(DeliveryAttempt.started_at, session.get_bind().dialect.name).label("bucket")
    stmt = (
        select(bucket, func.count(), func.sum(case((DeliveryAttempt.outcome != "success", 1), else_=0)))
        .where(grid.within(DeliveryAttempt.started_at), *where)
        .group_by(bucket)
    )
    counts = {int(b): (int(n), int(f or 0)) for b, n, f in await session.execute(stmt)}
    quantiles = await percentiles(
        session, grid, DeliveryAttempt.started_at, DeliveryAttempt.duration_ms, where
    )
    points = []
    for index, start in enumerate(grid.starts()):
        attempts, failures = counts.get(index, (0, 0))
        p50, p95 = quantiles.get(index, (None, None))
        points.append(Point(start, attempts, failures, p50, p95))
    return points


def _restart(session: AsyncSession, delivery: Delivery) -> None:
    delivery.status = DeliveryStatus.PENDING
    delivery.finished_at = None
    # No scheduled time: the manual attempt's own job sends it, not the endpoint's drain (should that
    # attempt fail, its retry is scheduled as usual).
    delivery.next_attempt_at = None
    fanout.schedule(session, delivery, trigger="manual", ordered=False)


async def redeliver(session: AsyncSession, delivery: Delivery) -> None:
    """Send a delivery again now, whatever its state; same webhook-id, logged as a manual attempt."""
    _restart(session, delivery)


async def recover(session: AsyncSession, app: App, since: datetime) -> int:
    """Enable the endpoint again and re-send every delivery that failed since `since`."""
    app.disabled_at = None
    app.disabled_reason = None
    app.consecutive_failures = 0
    app.failing_since = None
    app.failing_notified_at = None
    rows = (
        await session.execute(
            select(Delivery)
            .where(
                Delivery.app_id == app.id,
                Delivery.status == DeliveryStatus.FAILED,
                Delivery.created_at >= since,
            )
            .order_by(Delivery.id)
        )
    ).scalars()
    n = 0
    for delivery in rows:
        _restart(session, delivery)
        n += 1
    return n


async def prune(runtime: Runtime, retention: timedelta = RETENTION) -> int:
    """Delete finished deliveries (and their attempts) older than the retention."""
    cutoff = utcnow() - retention
    total = 0
    while True:
        async with runtime.sessions() as session, session.begin():
            ids = list(
                (
                    await session.execute(
                        select(Delivery.id)
                        .where(Delivery.status != DeliveryStatus.PENDING, Delivery.created_at < cutoff)
                        .limit(PRUNE_BATCH)
                    )
                ).scalars()
            )
            if ids:
                await session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids)))
                await session.execute(delete(Delivery).where(Delivery.id.in_(ids)))
        total += len(ids)
        if len(ids) < PRUNE_BATCH:
            return total
