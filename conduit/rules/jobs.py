"""The rules domain's jobs, and its subscription to published events.

`queue_evaluations` reads each batch of published `issue.created`, `event.created` and regressions
(an `issue.unresolved` that ingest emitted): for every issue they name whose project has an enabled
rule it queues `rules.evaluate`, keyed by the issue and due a second later (and no sooner than
`evaluate.SPACING` after its last evaluation), unless one is already queued and has not yet read the
issue (`counts.marks`, one plain read for the batch, then `counts.claim`): that one will count these
events. A burst of events is therefore one or a few evaluations per issue, not one per event, and a
batch of events costs one read when its issues are all waiting; a regression always queues its own,
since it carries when the issue regressed. Publishing is at-least-once: a repeated event queues at
most one more evaluation, which finds nothing new to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from conduit.db.base import utcnow
from conduit.db.models import Rule
from conduit.events.publish import Published, subscribe_batch
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


@dataclass(slots=True)
class _Wanted:
    organization_id: int
    project_id: int
    # When each regression in the batch happened: each queues its own evaluation.
    regressions: list[str] = field(default_factory=list)


def _wanted(events: Sequence[Published]) -> dict[int, _Wanted]:
    """The issues a batch of events may need evaluated, by id."""
    wanted: dict[int, _Wanted] = {}
    for event in events:
        if event.type not in TRIGGERING:
            continue
        issue_id, project_id = event.data.get("issue_id"), event.data.get("project_id")
        if not isinstance(issue_id, int) or not isinstance(project_id, int):
            continue
        regression = event.type == "issue.unresolved"
        if regression and event.actor.get("reason") != REGRESSION:
            continue  # reopened by a person or a tracker: not a regression
        entry = wanted.setdefault(issue_id, _Wanted(event.organization_id, project_id))
        if regression:
            entry.regressions.append(event.occurred_at.isoformat())
    return wanted


@subscribe_batch
async def queue_evaluations(ctx: JobContext, events: Sequence[Published]) -> None:
    wanted = _wanted(events)
    if not wanted:
        return
    async with ctx.runtime.sessions() as session:
        now = utcnow()
        # Most issues of a burst find an evaluation waiting: one read for the batch, no write, no lock.
        marks = await counts.marks(session, wanted, now)
        todo = {i: w for i, w in wanted.items() if w.regressions or not marks.get(i, counts.NO_MARK).waiting}
        if not todo:
            return
        ruled = set(
            (
                await session.scalars(
                    select(Rule.project_id)
                    .where(Rule.project_id.in_({w.project_id for w in todo.values()}), Rule.enabled.is_(True))
                    .distinct()
                )
            ).all()
        )
        todo = {i: w for i, w in todo.items() if w.project_id in ruled}
        if not todo:
            return
        claimed = await counts.claim(session, {i: w.organization_id for i, w in todo.items()}, now)
        for issue_id, entry in todo.items():
            evaluated_at = marks.get(issue_id, counts.NO_MARK).evaluated_at
            if issue_id in claimed:
                evaluate.queue(session, entry.organization_id, issue_id, None, evaluated_at)
            for regressed_at in entry.regressions:
                evaluate.queue(session, entry.organization_id, issue_id, regressed_at, evaluated_at)
        await session.commit()
