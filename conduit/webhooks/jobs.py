"""The webhooks domain's jobs: endpoint drains and single attempts, and pruning the delivery log; and its
subscription to published events, which turns each batch into deliveries (conduit.webhooks.fanout)."""

from __future__ import annotations

from conduit.events.publish import subscribe_batch
from conduit.jobs.context import JobContext
from conduit.jobs.registry import job, registry
from conduit.webhooks import delivery, drain, fanout, log

PRUNE_KIND = "webhooks.prune"

subscribe_batch(fanout.deliver_events)


# Throttle deferrals count as tries, so the budget is generous; the delivery's own schedule (8 attempts
# over about 28 hours) is kept on the delivery, not in the job's tries. A drain carries its endpoint's
# key, so one endpoint has one drain running at a time (see conduit.webhooks.drain).
@job(fanout.DELIVER_KIND, max_tries=200, timeout=delivery.JOB_TIMEOUT, backoff_cap=60)
async def deliver(ctx: JobContext, *args: int | str) -> None:
    await drain.run(ctx, *args)


@job(PRUNE_KIND, max_tries=3, timeout=300)
async def prune(ctx: JobContext) -> None:
    deleted = await log.prune(ctx.runtime)
    ctx.log.info("pruned %d webhook deliveries older than %s", deleted, log.RETENTION)


registry.periodic(PRUNE_KIND, PRUNE_KIND, 3600)
