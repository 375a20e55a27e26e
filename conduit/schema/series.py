"""The windows health and analytics are read over, and the grid of buckets each one is charted in.

A window fixes its bucket size, so a series is always a short list of the same length (at most
MAX_BUCKETS), with every bucket present, oldest first: a chart needs no paging and no gap-filling. The
optional `until` moves the window into the past (an incident last Tuesday); one in the future means now
(a browser's clock may run ahead), one further back than MAX_LOOKBACK is refused, so no argument can ask
for an unbounded or nonsensical grid.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

import strawberry

from conduit.db.base import utcnow
from conduit.db.series import Grid
from conduit.schema.errors import BadInput


@strawberry.enum(description="A span of time health and analytics are read over, ending now or at `until`.")
class HealthWindow(Enum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


WINDOWS = {
    HealthWindow.HOUR: timedelta(hours=1),
    HealthWindow.DAY: timedelta(days=1),
    HealthWindow.WEEK: timedelta(days=7),
}
STEPS = {
    HealthWindow.HOUR: timedelta(minutes=5),
    HealthWindow.DAY: timedelta(hours=1),
    HealthWindow.WEEK: timedelta(hours=6),
}
MAX_BUCKETS = max(int(WINDOWS[w] / STEPS[w]) for w in HealthWindow)
MAX_LOOKBACK = timedelta(days=90)
UNTIL_DESCRIPTION = (
    "The end of the window (its last bucket holds it): now when null or in the future; at most "
    f"{MAX_LOOKBACK.days} days ago."
)


def grid(window: HealthWindow, until: datetime | None) -> Grid:
    now = utcnow()
    if until is None:
        until = now
    elif until.tzinfo is None:
        raise BadInput("`until` must carry a time zone, e.g. 2026-03-02T10:00:00Z", argument="until")
    elif until < now - MAX_LOOKBACK:
        raise BadInput(f"`until` is more than {MAX_LOOKBACK.days} days ago", argument="until")
    return Grid.ending_now(min(until, now), WINDOWS[window], STEPS[window])


@strawberry.interface(description="Where a series' buckets lie: every bucket of the window, oldest first.")
class Series:
    window: HealthWindow
    bucket_seconds: int
    start: datetime = strawberry.field(description="The start of the first bucket.")
    end: datetime = strawberry.field(description="The end of the last bucket, which may still be filling.")
