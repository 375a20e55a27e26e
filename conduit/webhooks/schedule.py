"""When to try a delivery again, and what an attempt's outcome means for the endpoint."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from enum import StrEnum

from conduit.db.base import utcnow

# Delay before attempt n+1 (index n-1 after attempt n failed): at once, 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 10 h: about 27.6 hours in all, long enough to ride out a receiver's overnight outage.
SCHEDULE: tuple[float, ...] = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(SCHEDULE)
JITTER = 0.2  # ±20 %, so endpoints that failed together do not all retry in the same second

DEFAULT_TIMEOUT = 15.0
MIN_TIMEOUT = 1.0
MAX_TIMEOUT = 30.0

THROTTLE_STATUSES = frozenset({429, 502, 504})
# How long an endpoint that asked us to slow down gets no deliveries at all, when it did not say.
DEFAULT_PAUSE = 5.0
MAX_PAUSE = 600.0
GONE = 410


class Outcome(StrEnum):
    SUCCESS = "success"  # 2xx
    RETRY = "retry"  # any other failure: try again on schedule
    THROTTLE = "throttle"  # the receiver asked us to slow down (429/502/504): slow down, then retry
    DISABLE = "disable"  # 410 Gone: the receiver wants no more deliveries


def classify(status: int | None) -> Outcome:
    """The meaning of one attempt; `None` is a failure without a response (timeout, refused, reset).

    Redirects count as failures and are never followed: the endpoint was registered and checked as
    given, and following one could lead anywhere.
    """
    if status is None:
        return Outcome.RETRY
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if status == GONE:
        return Outcome.DISABLE
    if status in THROTTLE_STATUSES:
        return Outcome.THROTTLE
    return Outcome.RETRY


def scheduled_delay(attempt: int) -> float | None:
    """The unjittered delay after `attempt` (1-based) failed, or None when no attempts remain."""
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt numbers start at 1, not {attempt!r}")
    return SCHEDULE[attempt] if attempt < MAX_ATTEMPTS else None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - utcnow()).total_seconds())


def next_delay(
    attempt: int, retry_after: float | None = None, *, rng: random.Random | None = None
) -> float | None:
    """Seconds to wait before the next attempt after `attempt` (1-based) failed; None means give up.

    A Retry-After from the receiver is honoured but kept between 1x and 2x the scheduled delay, so a
    receiver can slow us down without stalling its own deliveries for days or hurrying us past the plan.
    """
    base = scheduled_delay(attempt)
    if base is None:
        return None
    delay = base * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None:
        delay = min(max(retry_after, base), 2 * base)
    return delay


def pause_for(retry_after: float | None) -> float:
    """How long to hold every delivery to an endpoint that answered 429/502/504.

    Its Retry-After is honoured up to ten minutes; beyond that the retry schedule of each delivery
    takes over, so one header cannot silence an endpoint for days.
    """
    if retry_after is None:
        return DEFAULT_PAUSE
    return min(max(retry_after, 1.0), MAX_PAUSE)


def validate_timeout(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"a webhook timeout is a number of seconds, not {seconds!r}")
    if not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:
        raise ValueError(
            f"a webhook timeout is between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} seconds, not {seconds}"
        )
    return float(seconds)
