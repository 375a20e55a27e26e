"""Tracker sync jobs: install, create tickets, push changes out, apply webhooks in, reconcile; and the
subscription that turns published events into ticket changes.

Per-ticket work is ordered by the key `ticket:<external_issue_id>`, so changes to one ticket, in and
out, happen one at a time in the order they were written. A tracker's rate limit becomes
`Retry(defer=...)`; refused credentials and requests become `PermanentFailure`.

Each handler is `handler(ctx, *args)`, queued with `outbox.enqueue(session, KIND, *args)` in the order
its signature gives. Rows written before jobs took positional arguments carry a payload of named
fields instead; a handler called without arguments reads those (`_legacy`), for one version.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.events.publish import Published, subscribe
from conduit.jobs import outbox
from conduit.jobs.context import JobContext
from conduit.jobs.errors import PermanentFailure
from conduit.jobs.registry import job, registry
from conduit.sync import inbound, install, links, outbound, reconcile, webhooks
from conduit.sync.failures import job_outcome
from conduit.sync.revalidate import STALE_AFTER

WEBHOOK_KIND = "tracker.webhook.ensure"
RECONCILE_EVERY = timedelta(minutes=15)
# The fields of an inbound change, in the order `apply_webhook` takes them.
# A row written before comments were synced in has no `comment`.
APPLY_FIELDS = ("installation_id", "external_issue_id", "kind", "ticket", "delivery_id", "actor", "comment")


def _legacy(ctx: JobContext, *names: str) -> list[Any]:
    """The arguments of a row written with a payload of named fields (before positional arguments)."""
    return [ctx.payload.get(name) for name in names]


@job(install.INSTALL_KIND, max_tries=3, backoff_base=2.0, timeout=60)
async def install_tracker(
    ctx: JobContext, state_id: int | None = None, sealed_code: str | None = None
) -> None:
    """`sealed_code` is the authorization code, encrypted with the runtime's secret box."""
    if state_id is None:
        state_id, sealed_code = _legacy(ctx, "state_id", "code")
    status = await install.complete(ctx.runtime, int(state_id), str(sealed_code))
    ctx.log.info("installation is %s", status.value)


@job(links.CREATE_KIND, max_tries=8, backoff_base=1.0, backoff_cap=300, timeout=60)
async def create_ticket(ctx: JobContext, request_id: int | None = None) -> None:
    if request_id is None:
        (request_id,) = _legacy(ctx, "request_id")
    request_id = int(request_id)
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
    outbox.enqueue(session, WEBHOOK_KIND, installation_id, scope, organization_id=organization_id)


@job(WEBHOOK_KIND, max_tries=5, backoff_base=2.0, timeout=60)
async def ensure_webhook(
    ctx: JobContext, installation_id: int | None = None, scope: str | None = None
) -> None:
    if installation_id is None:
        installation_id, scope = _legacy(ctx, "installation_id", "scope")
    with job_outcome("registering the webhook"):
        await webhooks.ensure(ctx.runtime, int(installation_id), str(scope))


@job(outbound.PUSH_KIND, max_tries=8, backoff_base=1.0, backoff_cap=300, timeout=60, ordered=True)
async def push_ticket(
    ctx: JobContext,
    external_issue_id: int | None = None,
    what: str | None = None,
    comment_id: int | None = None,
) -> None:
    if external_issue_id is None:
        external_issue_id, what, comment_id = _legacy(ctx, "external_issue_id", "what", "comment_id")
    with job_outcome("changing the ticket"):
        done = await outbound.push(
            ctx.runtime,
            int(external_issue_id),
            str(what),
            comment_id if isinstance(comment_id, int) else None,
        )
    ctx.log.info("%s", done)


@job(inbound.APPLY_KIND, max_tries=5, backoff_base=1.0, timeout=30, ordered=True)
async def apply_webhook(ctx: JobContext, *change: Any) -> None:
    """`change` is a tracker's change to one ticket, as `APPLY_FIELDS`: ids, then the ticket's record
    (the tracker sent it; it has no row of its own), the delivery it came in, and who made it."""
    payload = dict(zip(APPLY_FIELDS, change, strict=False)) if change else ctx.payload
    outcome = await inbound.apply(ctx.runtime, payload)
    ctx.log.info("delivery %s: %s", payload.get("delivery_id"), outcome.value)


@job(reconcile.REVALIDATE_KIND, max_tries=3, backoff_base=2.0, timeout=120)
async def revalidate(
    ctx: JobContext, installation_id: int | None = None, external_issue_ids: list[int] | None = None
) -> None:
    if installation_id is None:
        installation_id, external_issue_ids = _legacy(ctx, "installation_id", "external_issue_ids")
    ids = [int(i) for i in external_issue_ids or []]
    with job_outcome("revalidating tickets"):
        counts = await reconcile.sync_installation(
            ctx.runtime,
            int(installation_id),
            ids or None,
            listing=True,
            # Tickets another revalidation read since they were asked for need no second read.
            stale_before=utcnow() - STALE_AFTER,
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


@subscribe
async def queue_ticket_changes(ctx: JobContext, event: Published) -> None:
    """Turn a published event into the ticket changes it calls for (the event's ids, as emitted)."""
    await outbound.on_event(ctx.runtime, event.organization_id, event.type, event.data, event.actor)
