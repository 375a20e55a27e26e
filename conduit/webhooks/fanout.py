"""From one published event to its deliveries: one per app endpoint subscribed to it.

`deliver_event` subscribes to published events (conduit.events.publish; registered by
conduit.webhooks.jobs). It is idempotent: the event's id is the outbox row's, and a delivery is
unique per (app, event), so a retried publish creates nothing twice.

An app subscribed to a deprecated name of an event type still gets the event, under that name
(conduit.events.catalog.names_of); an app subscribed to both names gets it once, under the new one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.auth.tokens import grants
from conduit.db.base import utcnow
from conduit.db.models import App, AppInstallation, AppInstallationStatus, Delivery, DeliveryStatus
from conduit.events.catalog import names_of
from conduit.events.publish import Published
from conduit.events.scopes import LIFECYCLE, required_scope
from conduit.ids import InvalidId, decode_as, encode
from conduit.jobs import outbox
from conduit.jobs.context import JobContext
from conduit.webhooks import payloads

DELIVER_KIND = "webhooks.deliver"


def endpoint_key(app_id: int) -> str:
    """Jobs sharing this key run one at a time, in order: one endpoint's first attempts."""
    return f"webhook:app:{app_id}"


def body_for(
    event_id: str,
    event_type: str,
    data: dict[str, Any],
    timestamp: datetime,
    actor: dict[str, Any] | None,
    installation_id: int | None,
) -> bytes:
    envelope = payloads.envelope(event_type, data, timestamp=timestamp, actor=actor)
    # The event id lets receivers match a delivery with the log and with other endpoints' copies; the
    # installation tells a multi-tenant app which of its installations the event belongs to.
    envelope["id"] = event_id
    envelope["installation_id"] = (
        None if installation_id is None else encode("AppInstallation", installation_id)
    )
    return payloads.encode_body(envelope)


def schedule(
    session: AsyncSession,
    delivery: Delivery,
    *,
    trigger: str = "scheduled",
    run_after: datetime | None = None,
    ordered: bool = True,
) -> None:
    """Queue the next attempt of a delivery, tagged with how many attempts were made before it.

    First attempts are ordered per endpoint. Retries and manual sends are not: a delivery waiting
    hours for its next try must not hold back every later event for that endpoint. The throttle, not
    the ordering, is what keeps an endpoint from being flooded.
    """
    outbox.enqueue(
        session,
        DELIVER_KIND,
        delivery.id,
        delivery.attempts,
        trigger,
        organization_id=delivery.organization_id,
        key=endpoint_key(delivery.app_id) if ordered else None,
        run_after=run_after,
    )


def _subscribed_name(app: App, names: tuple[str, ...]) -> str | None:
    """The name `app` subscribed to the event by (the current one first); None if not subscribed."""
    return next((name for name in names if name in app.events), None)


async def _targets(
    session: AsyncSession, event_type: str, organization_id: int, data: dict[str, Any]
) -> list[tuple[App, AppInstallation, str]]:
    if event_type in LIFECYCLE:
        try:
            inst_id = decode_as(str(data["app_installation"]["id"]), "AppInstallation")
        except (KeyError, TypeError, InvalidId):
            return []
        row = (
            await session.execute(
                select(App, AppInstallation)
                .join(AppInstallation, AppInstallation.app_id == App.id)
                .where(AppInstallation.id == inst_id, App.deleted_at.is_(None))
            )
        ).one_or_none()
        return [] if row is None or not row[0].webhook_url else [(row[0], row[1], event_type)]
    rows = await session.execute(
        select(App, AppInstallation)
        .join(AppInstallation, AppInstallation.app_id == App.id)
        .where(
            AppInstallation.organization_id == organization_id,
            AppInstallation.status == AppInstallationStatus.INSTALLED,
            App.deleted_at.is_(None),
            App.webhook_url.is_not(None),
        )
        .order_by(App.id)
    )
    scope = required_scope(event_type)
    names = names_of(event_type)
    concerned: int | None = None
    if event_type.startswith("endpoint."):
        # An endpoint's health is not sent to that same endpoint.
        try:
            concerned = decode_as(str(data["endpoint"]["app_id"]), "App")
        except (KeyError, TypeError, InvalidId):
            concerned = None
    return [
        (app, inst, name)
        for app, inst in rows.tuples()
        if (name := _subscribed_name(app, names)) is not None
        and app.id != concerned
        and (scope is None or grants(inst.scopes, scope))
    ]


async def create_deliveries(
    session: AsyncSession,
    event_id: str,
    event_type: str,
    organization_id: int,
    data: dict[str, Any],
    timestamp: datetime,
    actor: dict[str, Any] | None,
) -> list[Delivery]:
    targets = await _targets(session, event_type, organization_id, data)
    if not targets:
        return []
    existing = set(
        (
            await session.execute(
                select(Delivery.app_id).where(
                    Delivery.event_id == event_id, Delivery.app_id.in_([a.id for a, _, _ in targets])
                )
            )
        ).scalars()
    )
    made: list[Delivery] = []
    for app, inst, name in targets:
        if app.id in existing:
            continue
        delivery = Delivery(
            app_id=app.id,
            owner_organization_id=app.organization_id,
            organization_id=organization_id,
            installation_id=inst.id,
            event_type=name,
            event_id=event_id,
            msg_id=payloads.message_id(event_id, f"app:{app.id}"),
            body=body_for(event_id, name, data, timestamp, actor, inst.id).decode(),
            status=DeliveryStatus.PENDING,
            attempts=0,
        )
        if app.disabled_at is not None:
            # Kept, visibly failed, so recovering the endpoint later sends it.
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = f"not sent: the endpoint is disabled ({app.disabled_reason})"
            delivery.finished_at = utcnow()
        session.add(delivery)
        made.append(delivery)
    await session.flush()
    for delivery in made:
        if delivery.status is DeliveryStatus.PENDING:
            schedule(session, delivery)
    return made


async def deliver_event(ctx: JobContext, event: Published) -> None:
    """Create the deliveries of one published event, and queue their first attempts."""
    data = await event.resources(ctx)
    if data is None:
        return
    async with ctx.runtime.sessions() as session:
        made = await create_deliveries(
            session, event.id, event.type, event.organization_id, data, event.occurred_at, event.actor
        )
        await session.commit()
    if made:
        ctx.log.info("event %s %s: %d deliveries", event.type, event.id, len(made))
