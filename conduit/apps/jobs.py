"""The apps domain's jobs: pruning the per-minute API usage counters that partner analytics read."""

from __future__ import annotations

from conduit.apps import analytics
from conduit.jobs.context import JobContext
from conduit.jobs.registry import job, registry

PRUNE_KIND = "apps.prune_usage"


@job(PRUNE_KIND, max_tries=3, timeout=300)
async def prune_usage(ctx: JobContext) -> None:
    deleted = await analytics.prune(ctx.runtime)
    ctx.log.info("pruned %d API usage counters older than %s", deleted, analytics.RETENTION)


registry.periodic(PRUNE_KIND, PRUNE_KIND, 3600)
