"""Publishing catalog events. Webhook delivery and subscriptions build on this kind later."""

from __future__ import annotations

from conduit.events.emit import PUBLISH_KIND
from conduit.jobs.context import JobContext
from conduit.jobs.registry import job
from conduit.jobs.tasks import sync
from conduit.webhooks.fanout import publish_event


@job(PUBLISH_KIND, max_tries=10, timeout=30)
async def publish(ctx: JobContext) -> None:
    ctx.log.info("event %s published", ctx.payload.get("type", "?"))
    await publish_event(ctx)
    await sync.on_event(ctx, ctx.payload)
