"""The rules domain's jobs, and its subscription to published events.

`queue_evaluations` reads each published `issue.created`, `event.created` and regression (an
`issue.unresolved` that ingest emitted): when the issue's project has an enabled rule it queues
`rules.evaluate` for the issue, keyed by the issue and due a second later (and no sooner than
`evaluate.SPACING` after its last evaluation), unless one is already queued and has not yet read the
issue (`counts.mark`, a plain read, then `counts.claim`): that one
will count this event. A burst of events is therefore one or a few evaluations, not one per event,
and most of its events cost one read here; a regression always queues its own,
since it carries when the issue regressed. Publishing is at-least-once: a repeated event queues at
most one more evaluation, which finds nothing new to do.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select

from conduit.db.base import utcnow
from conduit.db.models import Rule
from conduit.events.publish import Published, subscribe
from conduit.jobs.context import JobContext
from conduit.jobs.errors import Retry
from conduit.jobs.registry import job, registry
from conduit.rules import counts, evaluate, firings, quota
from conduit.rules.evaluate import EVALUATE_KIND, SETTLE_KIND

PRUNE_KIND = "rules.prune"
TRIGGERING = frozenset({"issue.created", "issue.unresolved", "event.created"})
REGRESSION = "regression"


@job(EVALUATE_KIND, max_tries=8, backoff_base=1.0, backoff_cap=60, timeout=60, ordered=True)
async def evaluate_issue(ctx: JobContext, issue_id: int, regressed_at: str | None = None) -> None:
    when = datetime.fromisoformat(regressed_at) if isinstance(regressed_at, str) else None
    try:
        summary = await evaluate.evaluate(ctx.runtime, int(issue_id), when)
    except quota.QuotaBusy as exc:
        raise Retry(defer=1.0, reason=str(exc)) from exc
    ctx.log.info("issue %s: %s", issue_id, summary)


@job(SETTLE_KIND, max_tries=5, backoff_base=1.0, timeout=30)
async def settle_firing(ctx: JobContext, firing_id: int) -> None:
    ctx.log.info("firing %s: %s", firing_id, await evaluate.settle_firing(ctx.runtime, int(firing_id)))


@job(PRUNE_KIND, max_tries=3, timeout=300)
async def prune(ctx: JobContext) -> None:
    deleted, buckets = await firings.prune(ctx.runtime)
    ctx.log.info(
        "pruned %d rule firings older than %s and %d count buckets", deleted, firings.RETENTION, buckets
    )


registry.periodic(PRUNE_KIND, PRUNE_KIND, 3600)


@subscribe
async def queue_evaluations(ctx: JobContext, event: Published) -> None:
    if event.type not in TRIGGERING:
        return
    issue_id, project_id = event.data.get("issue_id"), event.data.get("project_id")
    if not isinstance(issue_id, int) or not isinstance(project_id, int):
        return
    regression = event.type == "issue.unresolved"
    if regression and event.actor.get("reason") != REGRESSION:
        return  # reopened by a person or a tracker: not a regression
    async with ctx.runtime.sessions() as session:
        now = utcnow()
        # Most events of a burst find an evaluation waiting: one read, no write, no lock to wait on.
        mark = await counts.mark(session, issue_id, now)
        if mark.waiting and not regression:
            return
        ruled = await session.scalar(
            select(exists().where(Rule.project_id == project_id, Rule.enabled.is_(True)))
        )
        if not ruled:
            return
        claimed = await counts.claim(session, event.organization_id, issue_id, now)
        if not claimed and not regression:
            await session.commit()
            return
        when = event.occurred_at.isoformat() if regression else None
        evaluate.queue(session, event.organization_id, issue_id, when, mark.evaluated_at)
        await session.commit()
