"""Acting on the delivery log: re-sending one delivery, recovering an endpoint (the app's owner only).

Reading the log is a field of `App` and `AppInstallation` (conduit.schema.deliveries); one delivery by its
id, to follow its attempts, is the `delivery` root field (the app's owner only, like redelivering it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from conduit import ids
from conduit.db import models
from conduit.db.tenancy import TenantScope
from conduit.schema.context import Info
from conduit.schema.deliveries import Delivery
from conduit.schema.errors import ForbiddenError, NotFoundError, ValidationError
from conduit.schema.permissions import forbidden, require
from conduit.webhooks import log


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
class DeliveryQuery:
    @strawberry.field(description="One delivery of an app this organization owns; null when there is none.")
    async def delivery(self, info: Info, id: strawberry.ID) -> Delivery | None:
        require(info, "webhook:read")
        pk = ids.pk_or_none(id, "Delivery")
        if pk is None:
            return None
        viewer_org = info.context.viewer.organization_id
        async with info.context.runtime.sessions() as session:
            delivery = (await session.execute(log.owned_delivery(viewer_org, pk))).scalar_one_or_none()
            if delivery is None:
                return None
            attempts = await log.attempts_of(session, [delivery.id])
        return Delivery.from_model(delivery, attempts[delivery.id], viewer_org)


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
