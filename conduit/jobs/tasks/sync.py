"""Tracker sync jobs: install, create tickets, push changes out, apply webhooks in, reconcile.

Per-ticket work is ordered by the key `ticket:<external_issue_id>`, so changes to one ticket, in and
out, happen one at a time in the order they were written. A tracker's rate limit becomes
`Retry(defer=...)`; refused credentials and requests become `PermanentFailure`.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from conduit.jobs import outbox
from conduit.jobs.context import JobContext
from conduit.jobs.errors import PermanentFailure
from conduit.jobs.registry import job, registry
from conduit.sync import inbound, install, links, outbound, reconcile, webhooks
from conduit.sync.failures import job_outcome

WEBHOOK_KIND = "tracker.webhook.ensure"
RECONCILE_EVERY = timedelta(minutes=15)


@job(install.INSTALL_KIND, max_tries=3, backoff_base=2.0, timeout=60)
async def install_tracker(ctx: JobContext) -> None:
    status = await install.complete(ctx.runtime, int(ctx.payload["state_id"]), str(ctx.payload["code"]))
    ctx.log.info("installation is %s", status.value)


@job(links.CREATE_KIND, max_tries=8, backoff_base=1.0, backoff_cap=300, timeout=60)
async def create_ticket(ctx: JobContext) -> None:
    request_id = int(ctx.payload["request_id"])
    try:
        with job_outcome("creating the ticket"):
            made = await links.create_ticket(ctx.runtime, request_id, ctx.attempt)
    except PermanentFailure as exc:
        await links.fail_request(ctx.runtime, request_id, exc.reason)
        raise
    except links.LinkError as exc:
        await links.fail_request(ctx.runtime, request_id, str(exc))
        raise PermanentFailure(str(exc)) from exc
    if made is not None:
        external, scope = made
        async with ctx.runtime.sessions() as session:
            queue_webhook(session, external.organization_id, external.installation_id, scope)
            await session.commit()


def queue_webhook(session: AsyncSession, organization_id: int, installation_id: int, scope: str) -> None:
    payload = {"installation_id": installation_id, "scope": scope}
    outbox.add(session, WEBHOOK_KIND, payload, organization_id=organization_id)


@job(WEBHOOK_KIND, max_tries=5, backoff_base=2.0, timeout=60)
async def ensure_webhook(ctx: JobContext) -> None:
    with job_outcome("registering the webhook"):
        await webhooks.ensure(ctx.runtime, int(ctx.payload["installation_id"]), str(ctx.payload["scope"]))


@job(outbound.PUSH_KIND, max_tries=8, backoff_base=1.0, backoff_cap=300, timeout=60, ordered=True)
async def push_ticket(ctx: JobContext) -> None:
    with job_outcome("changing the ticket"):
        done = await outbound.push(
            ctx.runtime,
            int(ctx.payload["external_issue_id"]),
            str(ctx.payload["what"]),
            _optional_int(ctx.payload.get("comment_id")),
        )
    ctx.log.info("%s", done)


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) else None


@job(inbound.APPLY_KIND, max_tries=5, backoff_base=1.0, timeout=30, ordered=True)
async def apply_webhook(ctx: JobContext) -> None:
    outcome = await inbound.apply(ctx.runtime, ctx.payload)
    ctx.log.info("delivery %s: %s", ctx.payload.get("delivery_id"), outcome.value)


@job(reconcile.REVALIDATE_KIND, max_tries=3, backoff_base=2.0, timeout=120)
async def revalidate(ctx: JobContext) -> None:
    ids = [int(i) for i in ctx.payload.get("external_issue_ids") or []]
    with job_outcome("revalidating tickets"):
        counts = await reconcile.sync_installation(
            ctx.runtime, int(ctx.payload["installation_id"]), ids or None, listing=True
        )
    ctx.log.info("revalidated: %s", dict(counts))


@job(reconcile.RECONCILE_KIND, max_tries=3, backoff_base=5.0, timeout=600)
async def reconcile_all(ctx: JobContext) -> None:
    """Every active installation, one after the other; one failing does not stop the rest."""
    for installation_id in await reconcile.active_installations(ctx.runtime):
        try:
            with job_outcome(f"reconciling installation {installation_id}"):
                counts = await reconcile.reconcile_installation(ctx.runtime, installation_id)
        except Exception as exc:
            ctx.log.warning("installation %s not reconciled: %s", installation_id, exc)
            continue
        ctx.log.info("installation %s reconciled: %s", installation_id, dict(counts))


registry.periodic(reconcile.RECONCILE_KIND, reconcile.RECONCILE_KIND, RECONCILE_EVERY)


async def on_event(ctx: JobContext, payload: dict[str, object]) -> int:
    """Fan a published event out to ticket changes (called by the `events.publish` job)."""
    return await outbound.on_event(ctx, payload)
