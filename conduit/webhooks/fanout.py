"""From published events to their deliveries: one per app endpoint subscribed to each event.

`deliver_events` subscribes to batches of published events (conduit.events.publish; registered by
conduit.webhooks.jobs). A batch's deliveries are written in a few set-based statements, and each
endpoint that got any is asked to send (`kick`: one job per endpoint, not one per delivery; see
conduit.webhooks.drain). It is idempotent: the event's id is the outbox row's, and a delivery is
unique per (app, event), so a retried publish creates nothing twice.

An app subscribed to a deprecated name of an event type still gets the event, under that name
(conduit.events.catalog.names_of); an app subscribed to both names gets it once, under the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.auth.tokens import grants
from conduit.db.base import utcnow
from conduit.db.models import App, AppInstallation, AppInstallationStatus, Delivery, DeliveryStatus
from conduit.events.catalog import names_of
from conduit.events.publish import Published, load_resources
from conduit.events.scopes import LIFECYCLE, required_scope
from conduit.ids import InvalidId, decode_as, encode
from conduit.jobs import outbox
from conduit.jobs.context import JobContext
from conduit.webhooks import payloads

DELIVER_KIND = "webhooks.deliver"


def endpoint_key(app_id: int) -> str:
    """Jobs sharing this key run one at a time, in order: one endpoint's drains."""
    return f"webhook:app:{app_id}"


def kick(session: AsyncSession, app_id: int, organization_id: int, run_after: datetime | None = None) -> None:
    """Queue a drain of the endpoint: it sends every delivery due then (conduit.webhooks.drain)."""
    outbox.enqueue(
        session,
        DELIVER_KIND,
        app_id,
        organization_id=organization_id,
        key=endpoint_key(app_id),
        run_after=run_after,
    )


def wake(session: AsyncSession, app_id: int, organization_id: int, run_after: datetime) -> None:
    """Kick the endpoint at `run_after` (a retry falls due then).

    Without a key, so it holds back nothing queued for the endpoint meanwhile: when it runs it only
    queues a drain behind them.
    """
    outbox.enqueue(session, DELIVER_KIND, app_id, organization_id=organization_id, run_after=run_after)


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
    """Queue one attempt of one delivery, tagged with how many attempts were made before it: a manual
    send. Scheduled attempts are made by the endpoint's drain (`kick`)."""
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


@dataclass(frozen=True, slots=True)
class EventToSend:
    id: str
    type: str
    organization_id: int
    data: dict[str, Any]
    timestamp: datetime
    actor: dict[str, Any] | None


class _Installed:
    """The apps installed in each organization of a batch, read once per organization."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._by_org: dict[int, list[tuple[App, AppInstallation]]] = {}

    async def of(self, organization_id: int) -> list[tuple[App, AppInstallation]]:
        found = self._by_org.get(organization_id)
        if found is None:
            rows = await self.session.execute(
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
            found = self._by_org[organization_id] = list(rows.tuples())
        return found


async def _targets(
    installed: _Installed, event_type: str, organization_id: int, data: dict[str, Any]
) -> list[tuple[App, AppInstallation, str]]:
    session = installed.session
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
    rows = await installed.of(organization_id)
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
        for app, inst in rows
        if (name := _subscribed_name(app, names)) is not None
        and app.id != concerned
        and (scope is None or grants(inst.scopes, scope))
    ]


def _insert(session: AsyncSession) -> Any:
    """An INSERT that skips a delivery already made by a concurrent run of the same fan-out."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(Delivery).on_conflict_do_nothing(index_elements=["app_id", "event_id"])
    return sqlite.insert(Delivery).on_conflict_do_nothing(index_elements=["app_id", "event_id"])


async def create_many(
    session: AsyncSession, events: Sequence[EventToSend], installed: _Installed | None = None
) -> dict[int, int]:
    """Write the deliveries of many events in a few statements and queue a drain of every endpoint
    that got one to send; returns how many each app got, by app id."""
    installed = installed or _Installed(session)
    planned: list[tuple[EventToSend, App, AppInstallation, str]] = []
    for event in events:
        for app, inst, name in await _targets(installed, event.type, event.organization_id, event.data):
            planned.append((event, app, inst, name))
    if not planned:
        return {}
    existing = set(
        (
            await session.execute(
                select(Delivery.app_id, Delivery.event_id).where(
                    tuple_(Delivery.app_id, Delivery.event_id).in_(
                        list({(app.id, event.id) for event, app, _, _ in planned})
                    )
                )
            )
        ).tuples()
    )
    now = utcnow()
    rows: list[dict[str, Any]] = []
    counts: dict[int, int] = {}
    owners: dict[int, int] = {}
    for event, app, inst, name in planned:
        if (app.id, event.id) in existing:
            continue
        existing.add((app.id, event.id))
        row: dict[str, Any] = {
            "app_id": app.id,
            "owner_organization_id": app.organization_id,
            "organization_id": event.organization_id,
            "installation_id": inst.id,
            "event_type": name,
            "event_id": event.id,
            "msg_id": payloads.message_id(event.id, f"app:{app.id}"),
            "body": body_for(event.id, name, event.data, event.timestamp, event.actor, inst.id).decode(),
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            # Due now: the endpoint's drain sends what is pending and due, in id order.
            "next_attempt_at": now,
            "last_status_code": None,
            "last_error": None,
            "finished_at": None,
            "test": False,
            "created_at": now,
        }
        if app.disabled_at is not None:
            # Kept, visibly failed, so recovering the endpoint later sends it.
            row.update(
                status=DeliveryStatus.FAILED,
                next_attempt_at=None,
                last_error=f"not sent: the endpoint is disabled ({app.disabled_reason})",
                finished_at=now,
            )
        else:
            counts[app.id] = counts.get(app.id, 0) + 1
            owners[app.id] = app.organization_id
        rows.append(row)
    if rows:
        await session.execute(_insert(session), rows)
    for app_id in counts:
        kick(session, app_id, owners[app_id])
    return counts


async def create_deliveries(
    session: AsyncSession,
    event_id: str,
    event_type: str,
    organization_id: int,
    data: dict[str, Any],
    timestamp: datetime,
    actor: dict[str, Any] | None,
) -> list[Delivery]:
    """The deliveries of one event (made now, or by an earlier run)."""
    event = EventToSend(event_id, event_type, organization_id, data, timestamp, actor)
    await create_many(session, [event])
    found = await session.execute(select(Delivery).where(Delivery.event_id == event_id).order_by(Delivery.id))
    return list(found.scalars())


async def deliver_events(ctx: JobContext, events: Sequence[Published]) -> None:
    """Create the deliveries of a batch of published events, and queue their endpoints' drains."""
    async with ctx.runtime.sessions() as session:
        installed = _Installed(session)
        # Only events some endpoint takes have their resources loaded (which apps take an event does
        # not depend on them), all in one go.
        wanted = [e for e in events if await _targets(installed, e.type, e.organization_id, e.data)]
        await load_resources(ctx, session, wanted)
        batch: list[EventToSend] = []
        for event in wanted:
            data = await event.resources(ctx, session)
            if data is not None:
                batch.append(
                    EventToSend(
                        event.id, event.type, event.organization_id, data, event.occurred_at, event.actor
                    )
                )
        counts = await create_many(session, batch, installed) if batch else {}
        await session.commit()
    if counts:
        ctx.log.info(
            "%d events: %d deliveries to %d endpoints", len(events), sum(counts.values()), len(counts)
        )
