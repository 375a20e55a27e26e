"""The DSN key's quota, checked once an event is known to be well-formed and before anything is stored.

A refusal is a 429 with `Retry-After` and Sentry's `X-Sentry-Rate-Limits`
(`<seconds>:<categories>:<scope>:<reason>`), which every Sentry SDK parses to stop sending the named
categories for that long. The quota counts events only: the other items of an envelope (sessions, client
reports...) are accepted and dropped, so only the event categories are named, scoped to the key.
"""

from __future__ import annotations

from conduit.ingest.auth import KeyOwner
from conduit.ingest.errors import RateLimited
from conduit.quotas import quotas_of
from conduit.runtime import Runtime

# The data categories SDKs count an event item in: `error` (exceptions and messages) and `default`
# (events without a more specific type).
EVENT_CATEGORIES = "error;default"
SCOPE = "key"
REASON = "key_quota"


async def check(runtime: Runtime, owner: KeyOwner) -> None:
    decision = await quotas_of(runtime).ingest(owner.public_key, owner.rate_limit)
    if decision.allowed:
        return
    seconds = decision.retry_after_seconds
    raise RateLimited(
        f"this DSN key is over its quota of {decision.limit} events per minute; retry in {seconds} s",
        headers={
            "Retry-After": str(seconds),
            "X-Sentry-Rate-Limits": f"{seconds}:{EVENT_CATEGORIES}:{SCOPE}:{REASON}",
        },
    )
