"""Emitting a catalog event: an outbox row in the caller's transaction, published after commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import OutboxRow
from conduit.events.catalog import EVENT_TYPES
from conduit.jobs import outbox

PUBLISH_KIND = "events.publish"


def publish_key(organization_id: int) -> str:
    """An organization's events are published in order, and the job publishing one takes the rest
    queued behind it (conduit.events.publish)."""
    return f"events:org:{organization_id}"


def emit(
    session: AsyncSession,
    event_type: str,
    organization_id: int,
    data: dict[str, Any],
    *,
    actor: dict[str, Any] | None = None,
) -> OutboxRow:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    payload = {
        "type": event_type,
        "version": EVENT_TYPES[event_type].version,
        "occurred_at": utcnow().isoformat(),
        "actor": actor or {"type": "system"},
        "data": data,
    }
    return outbox.add(
        session, PUBLISH_KIND, payload, organization_id=organization_id, key=publish_key(organization_id)
    )
