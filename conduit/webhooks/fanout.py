"""From one published event to its deliveries (one per subscribed app endpoint) and live subscribers.

`publish_event(ctx)` is what the `events.publish` job calls. It is idempotent: the event's id is the
outbox row's, and a delivery is unique per (app, event), so a retried publish creates nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.auth.tokens import grants
from conduit.db.base import utcnow
from conduit.db.models import App, AppInstallation, AppInstallationStatus, Delivery, DeliveryStatus
from conduit.events import broker, resources, sealed
from conduit.events.catalog import EVENT_TYPES
from conduit.events.scopes import LIFECYCLE, required_scope
from conduit.ids import InvalidId, decode_as, encode
from conduit.jobs import outbox
from conduit.jobs.context import JobContext
from conduit.runtime import Runtime
from conduit.webhooks import payloads

DELIVER_KIND = "webhooks.deliver"


def endpoint_key(app_id: int) -> str:
    """Jobs sharing this key run one at a time, in order: one endpoint's first attempts."""
    return f"webhook:app:{app_id}"


def event_id_of(job_id: int) -> str:
    return f"evt_{job_id}"


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


async def _targets(
    session: AsyncSession, event_type: str, organization_id: int, data: dict[str, Any]
) -> list[tuple[App, AppInstallation]]:
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
        return [] if row is None or not row[0].webhook_url else [(row[0], row[1])]
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
    concerned: int | None = None
    if event_type.startswith("endpoint."):
        # An endpoint's health is not sent to that same endpoint.
        try:
            concerned = decode_as(str(data["endpoint"]["app_id"]), "App")
        except (KeyError, TypeError, InvalidId):
            concerned = None
    return [
        (app, inst)
        for app, inst in rows.tuples()
        if event_type in app.events and app.id != concerned and (scope is None or grants(inst.scopes, scope))
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
                    Delivery.event_id == event_id, Delivery.app_id.in_([a.id for a, _ in targets])
                )
            )
        ).scalars()
    )
    made: list[Delivery] = []
    for app, inst in targets:
        if app.id in existing:
            continue
        delivery = Delivery(
            app_id=app.id,
            owner_organization_id=app.organization_id,
            organization_id=organization_id,
            installation_id=inst.id,
            event_type=event_type,
            event_id=event_id,
            msg_id=payloads.message_id(event_id, f"app:{app.id}"),
            body=body_for(event_id, event_type, data, timestamp, actor, inst.id).decode(),
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


async def publish_live(runtime: Runtime, event: broker.LiveEvent) -> None:
    await broker.broker_for(runtime).publish(event)


async def publish_event(ctx: JobContext) -> None:
    """Fan one `events.publish` row out to webhook deliveries, then to live subscribers."""
    payload = ctx.payload
    event_type = str(payload.get("type", ""))
    if event_type not in EVENT_TYPES or ctx.organization_id is None:
        ctx.log.warning("event %r without a known type or organization: not fanned out", event_type)
        return
    event_id = event_id_of(ctx.job_id)
    occurred = payload.get("occurred_at")
    timestamp = datetime.fromisoformat(occurred) if isinstance(occurred, str) else utcnow()
    actor = payload.get("actor")
    async with ctx.runtime.sessions() as session:
        try:
            data = await resources.expand(
                session, ctx.organization_id, event_type, dict(payload.get("data") or {})
            )
        except resources.ResourceGone as gone:
            ctx.log.info("event %s %s not fanned out: %s", event_type, event_id, gone)
            return
        made = await create_deliveries(
            session, event_id, event_type, ctx.organization_id, data, timestamp, actor
        )
        await session.commit()
    if made:
        ctx.log.info("event %s %s: %d deliveries", event_type, event_id, len(made))
    live = broker.LiveEvent(
        event_id,
        event_type,
        int(payload.get("version") or EVENT_TYPES[event_type].version),
        ctx.organization_id,
        timestamp.isoformat(),
        # A secret sealed for the app is not for the organization's live subscribers.
        sealed.redact(event_type, data),
        dict(actor or {"type": "system"}),
    )
    await publish_live(ctx.runtime, live)
