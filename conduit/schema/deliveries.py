"""Deliveries, seen from one of two sides.

The app's owner sees everything about a delivery to its endpoint: the URL, what the endpoint answered
(status, excerpt, error). An organization that installed someone else's app sees only its own side —
which event, whether and when it was delivered, how many attempts — and those fields are null for it.
The side is decided in `from_model`, from the row and the viewer's organization, so no resolver can
hand the owner's view to the installer by forgetting a check. The log is read here too, by the
`deliveries` and `health` fields of apps and app installations: newest first, one page and its attempts
in two queries, within the viewer's side of the log (`conduit.webhooks.log`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import cast

import orjson
import strawberry
from sqlalchemy import Select
from strawberry.scalars import JSON

from conduit import ids
from conduit.db import models
from conduit.events import sealed
from conduit.schema.context import Info
from conduit.schema.errors import BadInput
from conduit.schema.node import Node
from conduit.schema.pagination import Connection, Page, SortKey, connection, page_size, position
from conduit.schema.permissions import require
from conduit.schema.series import HealthWindow, Series, grid
from conduit.webhooks import log
from conduit.webhooks.log import Health

DELIVERY_SORT = SortKey(models.Delivery.created_at, models.Delivery.id, descending=True, is_datetime=True)
MAX_WINDOW = timedelta(days=30)


@strawberry.enum(description="Where a delivery stands.")
class DeliveryOutcome(Enum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@strawberry.enum
class AttemptTrigger(Enum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"


OWNER_ONLY = "Null unless this organization owns the app."


@strawberry.type(description="One try at sending a delivery, as the receiver answered it.")
class DeliveryAttempt:
    number: int
    trigger: AttemptTrigger
    url: str | None = strawberry.field(description=f"The endpoint. {OWNER_ONLY}")
    started_at: datetime
    duration_ms: int
    status_code: int | None = strawberry.field(
        description=f"The HTTP status; null when no response came back. {OWNER_ONLY}"
    )
    outcome: str = strawberry.field(description="success, retry, throttle or disable.")
    response_excerpt: str | None = strawberry.field(
        description=f"The first KB of the response body. {OWNER_ONLY}"
    )
    error: str | None = strawberry.field(description=OWNER_ONLY)
    next_attempt_at: datetime | None

    @classmethod
    def from_model(cls, a: models.DeliveryAttempt, owner: bool) -> DeliveryAttempt:
        return cls(
            number=a.number,
            trigger=AttemptTrigger(a.trigger.value),
            url=a.url if owner else None,
            started_at=a.started_at,
            duration_ms=a.duration_ms,
            status_code=a.status_code if owner else None,
            outcome=a.outcome,
            response_excerpt=a.response_excerpt if owner else None,
            error=a.error if owner else None,
            next_attempt_at=a.next_attempt_at,
        )


@strawberry.type(description="One event sent to one app endpoint, with every attempt.")
class Delivery(Node):
    event_type: str
    event_id: str = strawberry.field(description="The event's id, the same in every endpoint's copy.")
    webhook_id: str = strawberry.field(description="The `webhook-id` header: the same on every attempt.")
    outcome: DeliveryOutcome
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None = strawberry.field(description=OWNER_ONLY)
    last_error: str | None = strawberry.field(description=OWNER_ONLY)
    created_at: datetime
    finished_at: datetime | None
    test: bool
    payload: JSON = strawberry.field(description="The body as sent (and signed).")
    attempts: list[DeliveryAttempt]
    app_pk: strawberry.Private[int]
    installation_pk: strawberry.Private[int | None]

    @strawberry.field
    def app_id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode("App", self.app_pk))

    @strawberry.field
    def installation_id(self) -> strawberry.ID | None:
        pk = self.installation_pk
        return None if pk is None else strawberry.ID(ids.encode("AppInstallation", pk))

    @classmethod
    def from_model(
        cls, d: models.Delivery, attempts: list[models.DeliveryAttempt], viewer_organization_id: int
    ) -> Delivery:
        owner = d.owner_organization_id == viewer_organization_id
        return cls(
            id=strawberry.ID(ids.encode("Delivery", d.id)),
            event_type=d.event_type,
            event_id=d.event_id,
            webhook_id=d.msg_id,
            outcome=DeliveryOutcome(d.status.value),
            attempt_count=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code if owner else None,
            last_error=d.last_error if owner else None,
            created_at=d.created_at,
            finished_at=d.finished_at,
            test=d.test,
            payload=cast(JSON, orjson.loads(sealed.shown(d.event_type, d.body))),
            attempts=[DeliveryAttempt.from_model(a, owner) for a in attempts],
            app_pk=d.app_id,
            installation_pk=d.installation_id,
        )


@strawberry.input(description="Narrow a delivery log.")
class DeliveryFilter:
    event_types: list[str] | None = None
    outcome: DeliveryOutcome | None = None
    since: datetime | None = None
    until: datetime | None = None


@strawberry.type(description="Delivery health of an app's endpoint over a window.")
class AppHealth:
    window_seconds: int
    deliveries: int
    succeeded: int
    failed: int
    pending: int
    attempts: int
    success_rate: float | None = strawberry.field(description="Of the deliveries that finished.")
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    last_error: str | None
    last_error_at: datetime | None

    @classmethod
    def from_health(cls, h: Health) -> AppHealth:
        return cls(
            window_seconds=int(h.window.total_seconds()),
            deliveries=h.deliveries,
            succeeded=h.succeeded,
            failed=h.failed,
            pending=h.pending,
            attempts=h.attempts,
            success_rate=h.success_rate,
            p50_latency_ms=h.p50_ms,
            p95_latency_ms=h.p95_ms,
            last_error=h.last_error,
            last_error_at=h.last_error_at,
        )


@strawberry.type(description="The attempts at an app's endpoint that started in one bucket of a series.")
class AppHealthBucket:
    start: datetime = strawberry.field(description="The bucket ends where the next one starts.")
    attempts: int = strawberry.field(description="Every attempt, test events' and manual ones included.")
    failures: int = strawberry.field(description="Attempts the endpoint did not answer with success.")
    error_rate: float = strawberry.field(description="failures / attempts, 0 to 1; 0 without attempts.")
    p50_latency_ms: float | None = strawberry.field(description="Median latency; null without attempts.")
    p95_latency_ms: float | None

    @classmethod
    def from_point(cls, p: log.Point) -> AppHealthBucket:
        return cls(
            start=p.start,
            attempts=p.attempts,
            failures=p.failures,
            error_rate=p.error_rate,
            p50_latency_ms=p.p50_ms,
            p95_latency_ms=p.p95_ms,
        )


@strawberry.type(description="An app endpoint's health over time: every bucket of the window, oldest first.")
class AppHealthSeries(Series):
    buckets: list[AppHealthBucket]


def _filters(f: DeliveryFilter | None) -> log.Filters:
    if f is None:
        return log.Filters()
    for name, value in (("since", f.since), ("until", f.until)):
        if value is not None and value.tzinfo is None:
            raise BadInput(f"`{name}` must carry a time zone, e.g. 2026-03-02T10:00:00Z")
    return log.Filters(
        event_types=tuple(f.event_types or ()),
        outcome=None if f.outcome is None else log.Outcome(f.outcome.value),
        since=f.since,
        until=f.until,
    )


async def _page(
    info: Info, stmt: Select[models.Delivery], f: DeliveryFilter | None, first: int | None, after: str | None
) -> Connection[Delivery]:
    n, start = page_size(first), position(DELIVERY_SORT, after)
    stmt = log.filtered(stmt, _filters(f)).order_by(*DELIVERY_SORT.order_by()).limit(n + 1)
    if start is not None:
        stmt = stmt.where(DELIVERY_SORT.where_after(start))
    async with info.context.reads.session() as session:
        rows = list((await session.execute(stmt)).scalars())
        attempts = await log.attempts_of(session, [r.id for r in rows[:n]])
    viewer_org = info.context.viewer.organization_id
    return connection(
        Page(rows[:n], len(rows) > n),
        DELIVERY_SORT,
        lambda d: Delivery.from_model(d, attempts[d.id], viewer_org),
    )


async def app_deliveries(
    info: Info, app: models.App, f: DeliveryFilter | None, first: int | None, after: str | None
) -> Connection[Delivery]:
    require(info, "webhook:read")
    return await _page(info, log.for_app(info.context.viewer.organization_id, app.id), f, first, after)


async def installation_deliveries(
    info: Info, inst: models.AppInstallation, f: DeliveryFilter | None, first: int | None, after: str | None
) -> Connection[Delivery]:
    require(info, "webhook:read")
    stmt = log.for_installation(info.context.viewer.organization_id, inst.id)
    return await _page(info, stmt, f, first, after)


async def app_health(info: Info, app: models.App, window: timedelta) -> AppHealth:
    require(info, "webhook:read")
    if not timedelta(seconds=1) <= window <= MAX_WINDOW:
        raise BadInput(
            f"windowSeconds must be 1 to {int(MAX_WINDOW.total_seconds())}", argument="windowSeconds"
        )
    async with info.context.reads.session() as session:
        return AppHealth.from_health(await log.health(session, app, window))


async def app_health_series(
    info: Info, app: models.App, window: HealthWindow, until: datetime | None
) -> AppHealthSeries:
    require(info, "webhook:read")
    g = grid(window, until)
    async with info.context.reads.session() as session:
        points = await log.health_series(session, info.context.viewer.organization_id, app.id, g)
    return AppHealthSeries(
        window=window,
        bucket_seconds=g.step_seconds,
        start=g.start,
        end=g.end,
        buckets=[AppHealthBucket.from_point(p) for p in points],
    )
