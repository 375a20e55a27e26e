"""GraphQL subscriptions over graphql-transport-ws, fed by the same catalog as webhooks."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from conduit.events.broker import LiveEvent, broker_for
from conduit.events.catalog import EVENT_TYPES, names_of
from conduit.events.scopes import required_scope
from conduit.schema.catalog import EventMessage
from conduit.schema.context import Info
from conduit.schema.errors import BadInput


def _allowed(info: Info, event: LiveEvent, types: frozenset[str] | None) -> bool:
    viewer = info.context.viewer
    if event.organization_id != viewer.organization_id:
        return False
    # A subscriber may still filter on a deprecated name of the type.
    if types is not None and types.isdisjoint(names_of(event.type)):
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
