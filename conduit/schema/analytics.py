"""Partner analytics: an app's installs, events and API calls over time, seen by the app's owner only.

The figures are read by conduit.apps.analytics with the viewer's organization as the owner, so another
organization that installed the app (and so knows its id) reads nothing of it; the field also refuses
such a viewer outright rather than answer with zeros.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError

from conduit.apps import analytics
from conduit.db import models
from conduit.schema.context import Info
from conduit.schema.permissions import require
from conduit.schema.series import HealthWindow, Series, grid


@strawberry.type(description="What happened to an app in one bucket of its analytics.")
class AppAnalyticsBucket:
    start: datetime = strawberry.field(description="The bucket ends where the next one starts.")
    installs: int = strawberry.field(
        description="Organizations that installed the app (counted when the install completed)."
    )
    uninstalls: int
    events: int = strawberry.field(
        description="Events of the bucket sent to the app's endpoint, in every organization; test events "
        "aside."
    )
    events_delivered: int = strawberry.field(description="Of those, delivered so far.")
    events_failed: int = strawberry.field(description="Of those, given up on after the last attempt.")
    api_calls: int = strawberry.field(
        description="GraphQL requests made with the app's access tokens, in every organization."
    )
    api_errors: int = strawberry.field(description="Of those, answered with errors.")
    api_error_rate: float = strawberry.field(description="apiErrors / apiCalls, 0 to 1; 0 without calls.")

    @classmethod
    def from_point(cls, p: analytics.Point) -> AppAnalyticsBucket:
        return cls(
            start=p.start,
            installs=p.installs,
            uninstalls=p.uninstalls,
            events=p.events,
            events_delivered=p.events_delivered,
            events_failed=p.events_failed,
            api_calls=p.api_calls,
            api_errors=p.api_errors,
            api_error_rate=p.api_error_rate,
        )


@strawberry.type(
    description="How an app is doing across the organizations that installed it: every bucket of the "
    "window, oldest first. Only the app's owner sees it."
)
class AppAnalytics(Series):
    active_installations: int = strawberry.field(description="Installations in use now, whatever the window.")
    buckets: list[AppAnalyticsBucket]


async def app_analytics(
    info: Info, app: models.App, window: HealthWindow, until: datetime | None
) -> AppAnalytics:
    require(info, "app:read")
    owner = info.context.viewer.organization_id
    if app.organization_id != owner:
        raise GraphQLError("only the app's owner sees its analytics", extensions={"code": "FORBIDDEN"})
    g = grid(window, until)
    async with info.context.reads.session() as session:
        figures = await analytics.analytics(session, owner, app.id, g)
    return AppAnalytics(
        window=window,
        bucket_seconds=g.step_seconds,
        start=g.start,
        end=g.end,
        active_installations=figures.active_installations,
        buckets=[AppAnalyticsBucket.from_point(p) for p in figures.points],
    )
