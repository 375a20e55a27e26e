"""The webhooks domain's jobs: delivery attempts and pruning the delivery log; and its subscription to
published events, which turns each into deliveries (conduit.webhooks.fanout)."""

from __future__ import annotations

from conduit.events.publish import subscribe
from conduit.jobs.context import JobContext
from conduit.jobs.registry import job, registry
from conduit.webhooks import delivery, drain, fanout, log

PRUNE_KIND = "webhooks.prune"

subscribe(fanout.deliver_event)


# Throttle deferrals count as tries, so the budget is generous; the delivery's own schedule (8 attempts
# over about 28 hours) is kept on the delivery, not in the job's tries. First attempts carry a key per
# endpoint (ordered); retries do not (see conduit.webhooks.fanout.schedule). A first attempt's job also
# sends the first attempts queued behind it (see conduit.webhooks.drain).
@job(fanout.DELIVER_KIND, max_tries=200, timeout=delivery.JOB_TIMEOUT, backoff_cap=60)
async def deliver(ctx: JobContext, delivery_id: int, attempts_before: int, trigger: str) -> None:
    await drain.run(ctx, delivery_id, attempts_before, trigger)


@job(PRUNE_KIND, max_tries=3, timeout=300)
async def prune(ctx: JobContext) -> None:
    deleted = await log.prune(ctx.runtime)
    ctx.log.info("pruned %d webhook deliveries older than %s", deleted, log.RETENTION)


registry.periodic(PRUNE_KIND, PRUNE_KIND, 3600)
