"""Apps: an integrator's app as its owner sees it, and its installations in organizations.

Secrets are never fields: the mutations that make them return them once. Deliveries and health are
read through conduit.schema.deliveries, which decides the viewer's side of each delivery.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated

import strawberry

from conduit import ids
from conduit.db import models
from conduit.schema.analytics import AppAnalytics, app_analytics
from conduit.schema.context import Info
from conduit.schema.deliveries import (
    AppHealth,
    AppHealthSeries,
    Delivery,
    DeliveryFilter,
    app_deliveries,
    app_health,
    app_health_series,
    installation_deliveries,
)
from conduit.schema.node import Node
from conduit.schema.pagination import Connection
from conduit.schema.series import UNTIL_DESCRIPTION, HealthWindow


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


@strawberry.type(
    description="An integrator's app, as its owner sees it. Secrets are shown once, at creation."
)
class App(Node):
    name: str
    kind: AppKind
    client_id: str
    webhook_url: str | None
    redirect_url: str | None
    tracker_url: str | None = strawberry.field(
        description="Set when the app is a tracker: the base URL of its in-house tracker contract."
    )
    events: list[str]
    scopes: list[str]
    verify_install: bool
    webhook_timeout_seconds: float
    rate_limit_per_second: int
    max_in_flight: int
    fifo: bool = strawberry.field(
        description="Deliveries go one at a time, oldest first, a failing one holding back the rest."
    )
    created_at: datetime
    endpoint_state: EndpointState
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    model: strawberry.Private[models.App]

    @strawberry.field(description="Deliveries, success rate and latency over the last `windowSeconds`.")
    async def health(self, info: Info, window_seconds: int = 86400) -> AppHealth:
        return await app_health(info, self.model, timedelta(seconds=window_seconds))

    @strawberry.field(
        description="Attempts, failures and latency of this app's endpoint per bucket: 5 minutes over an "
        "hour, an hour over a day, 6 hours over a week. Empty buckets are there with zeros."
    )
    async def health_series(
        self,
        info: Info,
        window: HealthWindow = HealthWindow.DAY,
        until: Annotated[datetime | None, strawberry.argument(description=UNTIL_DESCRIPTION)] = None,
    ) -> AppHealthSeries:
        return await app_health_series(info, self.model, window, until)

    @strawberry.field(
        description="Installs and uninstalls, events delivered and API calls made by the app's tokens, "
        "per bucket, across every organization that installed it; and its active installations now."
    )
    async def analytics(
        self,
        info: Info,
        window: HealthWindow = HealthWindow.WEEK,
        until: Annotated[datetime | None, strawberry.argument(description=UNTIL_DESCRIPTION)] = None,
    ) -> AppAnalytics:
        return await app_analytics(info, self.model, window, until)

    @strawberry.field(description="Every delivery to this app's endpoint, newest first.")
    async def deliveries(
        self,
        info: Info,
        filter: DeliveryFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Delivery]:
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
            tracker_url=a.tracker_url,
            events=list(a.events),
            scopes=list(a.scopes),
            verify_install=a.verify_install,
            webhook_timeout_seconds=a.webhook_timeout,
            rate_limit_per_second=a.rate_limit_per_second,
            max_in_flight=a.max_in_flight,
            fifo=a.fifo,
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
