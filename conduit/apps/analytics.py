"""Partner analytics: how an app is doing across every organization that installed it.

What is read here is the app owner's alone: every query is scoped by the owner's organization where it
is built (`organization_id` of the history and usage rows, `owner_organization_id` of deliveries), so a
caller that names someone else's app gets zeros, never their figures. Two records exist for it:

- `AppInstallationChange`, one row each time an installation becomes installed or stops being so
  (`record_change`, called where the status changes). An install that waits for the app to exchange
  its grant code counts when the code is exchanged; uninstalling one that never got that far is no
  uninstall. So installs minus uninstalls is the change in active installations.
- `AppApiUsage`, a per-minute counter of GraphQL requests made with the app's access tokens
  (`count_call`, after each request): one upserted row per app and minute, pruned after RETENTION.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Insert, case, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import (
    App,
    AppApiUsage,
    AppInstallation,
    AppInstallationChange,
    AppInstallationStatus,
    Delivery,
    DeliveryStatus,
    InstallChange,
)
from conduit.db.series import Grid
from conduit.runtime import Runtime

log = logging.getLogger("conduit.apps.analytics")

RETENTION = timedelta(days=30)
MINUTE = timedelta(minutes=1)


async def record_change(session: AsyncSession, inst: AppInstallation, change: InstallChange) -> None:
    owner = await session.scalar(select(App.organization_id).where(App.id == inst.app_id))
    if owner is None:
        return
    session.add(
        AppInstallationChange(
            organization_id=owner, app_id=inst.app_id, installation_id=inst.id, change=change
        )
    )


def _upsert(dialect: str, app_id: int, minute: datetime, failed: bool) -> Insert:
    errors = 1 if failed else 0
    # The owner is read in the same statement, so counting needs nothing beyond the app's id.
    source = select(
        App.organization_id, App.id, literal(minute, AppApiUsage.minute.type), literal(1), literal(errors)
    ).where(App.id == app_id)
    columns = ["organization_id", "app_id", "minute", "calls", "errors"]
    if dialect == "postgresql":
        pg = postgresql.insert(AppApiUsage).from_select(columns, source)
        return pg.on_conflict_do_update(
            index_elements=["app_id", "minute"],
            set_={"calls": AppApiUsage.calls + 1, "errors": AppApiUsage.errors + pg.excluded.errors},
        )
    lite = sqlite.insert(AppApiUsage).from_select(columns, source)
    return lite.on_conflict_do_update(
        index_elements=["app_id", "minute"],
        set_={"calls": AppApiUsage.calls + 1, "errors": AppApiUsage.errors + lite.excluded.errors},
    )


async def count_call(runtime: Runtime, app_id: int, failed: bool) -> None:
    """Count one request of the app's tokens. A counter that cannot be written never fails the request."""
    minute = utcnow().replace(second=0, microsecond=0)
    try:
        async with runtime.sessions() as session, session.begin():
            await session.execute(_upsert(session.get_bind().dialect.name, app_id, minute, failed))
    except Exception:
        log.exception("could not count an API call of app %d", app_id)


async def prune(runtime: Runtime, retention: timedelta = RETENTION) -> int:
    async with runtime.sessions() as session, session.begin():
        result = await session.execute(delete(AppApiUsage).where(AppApiUsage.minute < utcnow() - retention))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Point:
    start: datetime
    installs: int
    uninstalls: int
    events: int  # deliveries made of events in the bucket (test events aside)
    events_delivered: int  # of those, delivered so far
    events_failed: int  # of those, given up on
    api_calls: int
    api_errors: int

    @property
    def api_error_rate(self) -> float:
        return self.api_errors / self.api_calls if self.api_calls else 0.0


@dataclass(frozen=True, slots=True)
class Analytics:
    active_installations: int
    points: list[Point]


async def analytics(session: AsyncSession, owner_id: int, app_id: int, grid: Grid) -> Analytics:
    dialect = session.get_bind().dialect.name

    change_bucket = grid.bucket(AppInstallationChange.created_at, dialect).label("bucket")
    changes = await session.execute(
        select(
            change_bucket,
            func.sum(case((AppInstallationChange.change == InstallChange.INSTALLED, 1), else_=0)),
            func.sum(case((AppInstallationChange.change == InstallChange.UNINSTALLED, 1), else_=0)),
        )
        .where(
            AppInstallationChange.organization_id == owner_id,
            AppInstallationChange.app_id == app_id,
            grid.within(AppInstallationChange.created_at),
        )
        .group_by(change_bucket)
    )
    installs = {int(b): (int(i or 0), int(u or 0)) for b, i, u in changes}

    delivery_bucket = grid.bucket(Delivery.created_at, dialect).label("bucket")
    deliveries = await session.execute(
        select(
            delivery_bucket,
            func.count(),
            func.sum(case((Delivery.status == DeliveryStatus.SUCCEEDED, 1), else_=0)),
            func.sum(case((Delivery.status == DeliveryStatus.FAILED, 1), else_=0)),
        )
        .where(
            Delivery.owner_organization_id == owner_id,
            Delivery.app_id == app_id,
            Delivery.test.is_(False),
            grid.within(Delivery.created_at),
        )
        .group_by(delivery_bucket)
    )
    events = {int(b): (int(n), int(d or 0), int(f or 0)) for b, n, d, f in deliveries}

    usage_bucket = grid.bucket(AppApiUsage.minute, dialect).label("bucket")
    usage = await session.execute(
        select(usage_bucket, func.sum(AppApiUsage.calls), func.sum(AppApiUsage.errors))
        .where(
            AppApiUsage.organization_id == owner_id,
            AppApiUsage.app_id == app_id,
            grid.within(AppApiUsage.minute),
        )
        .group_by(usage_bucket)
    )
    calls = {int(b): (int(c or 0), int(e or 0)) for b, c, e in usage}

    active = await session.scalar(
        select(func.count())
        .select_from(AppInstallation)
        .join(App, App.id == AppInstallation.app_id)
        .where(
            App.organization_id == owner_id,
            AppInstallation.app_id == app_id,
            AppInstallation.status == AppInstallationStatus.INSTALLED,
        )
    )
    points = []
    for index, start in enumerate(grid.starts()):
        made, gone = installs.get(index, (0, 0))
        sent, delivered, failed = events.get(index, (0, 0, 0))
        api_calls, api_errors = calls.get(index, (0, 0))
        points.append(Point(start, made, gone, sent, delivered, failed, api_calls, api_errors))
    return Analytics(int(active or 0), points)
