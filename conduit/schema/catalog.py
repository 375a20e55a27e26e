"""The event catalog over GraphQL: its entries (`eventTypes`) and the events themselves, as subscriptions
carry them. The same catalog feeds webhooks, so a subscriber and an app see one shape per type."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from conduit.events.broker import LiveEvent
from conduit.events.catalog import EventType as CatalogEntry
from conduit.events.scopes import required_scope


@strawberry.type(name="EventType", description="One entry of the event catalog.")
class EventTypeInfo:
    name: str
    version: int
    description: str
    schema: JSON = strawberry.field(description="JSON Schema (draft 2020-12) of the event's `data`.")
    example: JSON = strawberry.field(description="An example `data`, valid against the schema.")
    required_scope: str | None = strawberry.field(
        description="The scope needed to receive it; null for an app's own installation events."
    )

    @classmethod
    def from_entry(cls, e: CatalogEntry) -> EventTypeInfo:
        return cls(
            name=e.name,
            version=e.version,
            description=e.description,
            schema=cast(JSON, e.schema),
            example=cast(JSON, e.example),
            required_scope=required_scope(e.name),
        )


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
