"""The delivery log over GraphQL: per app (its owner) and per installation (the installing organization)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import strawberry
from sqlalchemy import Select

from conduit import ids
from conduit.db import models
from conduit.db.tenancy import TenantScope
from conduit.schema.context import Info
from conduit.schema.errors import BadInput, ForbiddenError, NotFoundError, ValidationError
from conduit.schema.pagination import Connection, Page, SortKey, connection, page_size, position
from conduit.schema.permissions import forbidden, require
from conduit.schema.types.app import AppHealth, DeliveryFilter
from conduit.schema.types.delivery import Delivery
from conduit.webhooks import log

DELIVERY_SORT = SortKey(models.Delivery.created_at, models.Delivery.id, descending=True, is_datetime=True)
MAX_WINDOW = timedelta(days=30)


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
    async with info.context.runtime.sessions() as session:
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
    async with info.context.runtime.sessions() as session:
        return AppHealth.from_health(await log.health(session, app, window))


@strawberry.type
class RedeliverPayload:
    delivery: Delivery


@strawberry.type
class RecoverEndpointPayload:
    resent: int = strawberry.field(description="How many failed deliveries were queued again.")


RedeliverResult = Annotated[
    RedeliverPayload | NotFoundError | ForbiddenError, strawberry.union("RedeliverResult")
]
RecoverEndpointResult = Annotated[
    RecoverEndpointPayload | NotFoundError | ValidationError | ForbiddenError,
    strawberry.union("RecoverEndpointResult"),
]


@strawberry.type
class DeliveryMutation:
    @strawberry.mutation(description="Send a delivery again now, with the same webhook-id.")
    async def redeliver(self, info: Info, delivery_id: strawberry.ID) -> RedeliverResult:
        if err := forbidden(info, "webhook:write"):
            return err
        pk = ids.pk_or_none(delivery_id, "Delivery")
        if pk is None:
            return NotFoundError(message="delivery not found")
        async with info.context.runtime.sessions() as session:
            # Only the app's owner re-sends: it is their endpoint that receives it.
            stmt = log.owned_delivery(info.context.viewer.organization_id, pk)
            delivery = (await session.execute(stmt)).scalar_one_or_none()
            if delivery is None:
                return NotFoundError(message="delivery not found")
            await log.redeliver(session, delivery)
            await session.commit()
            attempts = await log.attempts_of(session, [delivery.id])
        return RedeliverPayload(
            delivery=Delivery.from_model(delivery, attempts[delivery.id], info.context.viewer.organization_id)
        )

    @strawberry.mutation(
        description="Enable the app's endpoint again and re-send every delivery that failed since `since`."
    )
    async def recover_endpoint(
        self, info: Info, app_id: strawberry.ID, since: datetime
    ) -> RecoverEndpointResult:
        if err := forbidden(info, "webhook:write"):
            return err
        if since.tzinfo is None:
            return ValidationError(message="`since` must carry a time zone", field="since")
        if since < datetime.now(UTC) - log.RETENTION:
            return ValidationError(
                message=f"`since` reaches past the {log.RETENTION.days}-day log", field="since"
            )
        pk = ids.pk_or_none(app_id, "App")
        if pk is None:
            return NotFoundError(message="app not found")
        async with info.context.runtime.sessions() as session:
            app = await TenantScope(session, info.context.viewer.organization_id).get(models.App, pk)
            if app is None or app.deleted_at is not None:
                return NotFoundError(message="app not found")
            n = await log.recover(session, app, since)
            await session.commit()
        return RecoverEndpointPayload(resent=n)
