"""GraphQL subscriptions over graphql-transport-ws, fed by the same catalog as webhooks."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from conduit.events.broker import LiveEvent, broker_for
from conduit.events.catalog import EVENT_TYPES
from conduit.events.scopes import required_scope
from conduit.schema.context import Info
from conduit.schema.errors import BadInput


@strawberry.type(description="One catalog event, as it happened.")
class EventMessage:
    id: str
    type: str
    version: int
    occurred_at: datetime
    data: JSON = strawberry.field(description="Valid against the type's schema in `eventTypes`.")
    actor: JSON

    @classmethod
    def from_live(cls, e: LiveEvent) -> EventMessage:
        return cls(
            id=e.id,
            type=e.type,
            version=e.version,
            occurred_at=datetime.fromisoformat(e.occurred_at),
            data=cast(JSON, e.data),
            actor=cast(JSON, e.actor),
        )


def _allowed(info: Info, event: LiveEvent, types: frozenset[str] | None) -> bool:
    viewer = info.context.viewer
    if event.organization_id != viewer.organization_id:
        return False
    if types is not None and event.type not in types:
        return False
    scope = required_scope(event.type)
    # An app's own lifecycle events (with their grant codes) are for webhooks only.
    return scope is not None and viewer.can(scope)


async def _stream(info: Info, types: frozenset[str] | None) -> AsyncGenerator[EventMessage, None]:
    async for event in broker_for(info.context.runtime).subscribe():
        if _allowed(info, event, types):
            yield EventMessage.from_live(event)


@strawberry.type
class EventSubscription:
    @strawberry.subscription(
        description="Events of this organization that the token may read; all types, or those in `types`."
    )
    async def events(self, info: Info, types: list[str] | None = None) -> AsyncGenerator[EventMessage, None]:
        wanted = None
        if types is not None:
            unknown = sorted(set(types) - EVENT_TYPES.keys())
            if unknown:
                raise BadInput(f"unknown event type(s): {', '.join(unknown)}; see the eventTypes query")
            wanted = frozenset(types)
        async for message in _stream(info, wanted):
            yield message

    @strawberry.subscription(description="`issue.*` events of this organization (needs `issue:read`).")
    async def issue_events(self, info: Info) -> AsyncGenerator[EventMessage, None]:
        wanted = frozenset(t for t in EVENT_TYPES if t.startswith("issue."))
        async for message in _stream(info, wanted):
            yield message
