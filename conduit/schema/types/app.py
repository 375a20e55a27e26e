from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import cast

import strawberry
from strawberry.scalars import JSON

from conduit import ids
from conduit.db import models
from conduit.events.catalog import EventType as CatalogEntry
from conduit.events.scopes import required_scope
from conduit.schema.context import Info
from conduit.schema.pagination import Connection
from conduit.schema.types.delivery import Delivery, DeliveryOutcome
from conduit.schema.types.node import Node
from conduit.webhooks.log import Health


@strawberry.enum
class AppKind(Enum):
    PUBLIC = "public"
    INTERNAL = "internal"


@strawberry.enum(description="Whether the app's webhook endpoint receives deliveries.")
class EndpointState(Enum):
    HEALTHY = "healthy"
    FAILING = "failing"
    DISABLED = "disabled"


@strawberry.enum
class AppInstallationStatus(Enum):
    PENDING = "pending"
    INSTALLED = "installed"
    UNINSTALLED = "uninstalled"


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


@strawberry.input(description="Narrow a delivery log.")
class DeliveryFilter:
    event_types: list[str] | None = None
    outcome: DeliveryOutcome | None = None
    since: datetime | None = None
    until: datetime | None = None


@strawberry.type(
    description="An integrator's app, as its owner sees it. Secrets are shown once, at creation."
)
class App(Node):
    name: str
    kind: AppKind
    client_id: str
    webhook_url: str | None
    redirect_url: str | None
    events: list[str]
    scopes: list[str]
    verify_install: bool
    webhook_timeout_seconds: float
    rate_limit_per_second: int
    max_in_flight: int
    created_at: datetime
    endpoint_state: EndpointState
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    model: strawberry.Private[models.App]

    @strawberry.field(description="Deliveries, success rate and latency over the last `windowSeconds`.")
    async def health(self, info: Info, window_seconds: int = 86400) -> AppHealth:
        from conduit.resolvers.deliveries import app_health

        return await app_health(info, self.model, timedelta(seconds=window_seconds))

    @strawberry.field(description="Every delivery to this app's endpoint, newest first.")
    async def deliveries(
        self,
        info: Info,
        filter: DeliveryFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Delivery]:
        from conduit.resolvers.deliveries import app_deliveries

        return await app_deliveries(info, self.model, filter, first, after)

    @classmethod
    def from_model(cls, a: models.App) -> App:
        state = EndpointState.HEALTHY
        if a.disabled_at is not None:
            state = EndpointState.DISABLED
        elif a.failing_since is not None:
            state = EndpointState.FAILING
        return cls(
            id=strawberry.ID(ids.encode("App", a.id)),
            name=a.name,
            kind=AppKind(a.kind.value),
            client_id=a.client_id,
            webhook_url=a.webhook_url,
            redirect_url=a.redirect_url,
            events=list(a.events),
            scopes=list(a.scopes),
            verify_install=a.verify_install,
            webhook_timeout_seconds=a.webhook_timeout,
            rate_limit_per_second=a.rate_limit_per_second,
            max_in_flight=a.max_in_flight,
            created_at=a.created_at,
            endpoint_state=state,
            failing_since=a.failing_since,
            disabled_at=a.disabled_at,
            disabled_reason=a.disabled_reason,
            model=a,
        )


@strawberry.type(description="An app installed in this organization, with the scopes it was granted.")
class AppInstallation(Node):
    app_id: strawberry.ID
    app_name: str
    status: AppInstallationStatus
    scopes: list[str]
    created_at: datetime
    installed_at: datetime | None
    uninstalled_at: datetime | None
    model: strawberry.Private[models.AppInstallation]

    @strawberry.field(description="Deliveries of this organization's events to the app, newest first.")
    async def deliveries(
        self,
        info: Info,
        filter: DeliveryFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Delivery]:
        from conduit.resolvers.deliveries import installation_deliveries

        return await installation_deliveries(info, self.model, filter, first, after)

    @classmethod
    def from_model(cls, i: models.AppInstallation, app_name: str) -> AppInstallation:
        return cls(
            id=strawberry.ID(ids.encode("AppInstallation", i.id)),
            app_id=strawberry.ID(ids.encode("App", i.app_id)),
            app_name=app_name,
            status=AppInstallationStatus(i.status.value),
            scopes=list(i.scopes),
            created_at=i.created_at,
            installed_at=i.installed_at,
            uninstalled_at=i.uninstalled_at,
            model=i,
        )
