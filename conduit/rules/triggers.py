"""When a rule fires for an issue: the one decision both the evaluation and the preview make.

A firing has a cause, which also says how often it may happen: `new` once per issue, `regression:<when>`
once per regression, `rate` at most once per window while the count stays above the threshold, and
`ticket:<id>` once per ticket whose count since it was made passes the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.models import Event, Issue, RuleFiring, RuleTrigger
from conduit.rules.counts import Counts
from conduit.rules.definition import RuleSpec

# Issues are new to a rule for this long after they are first seen (and only if the rule was there);
# as long as the firing log keeps the firing that says a rule already acted.
NEW_FOR = timedelta(days=30)
RATE = "rate"


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket linked to the issue, as rules see it: `baseline` is the count it was made at."""

    external_issue_id: int
    installation_id: int
    key: str
    baseline: int
    milestone: int


async def causes(
    session: AsyncSession,
    spec: RuleSpec,
    issue: Issue,
    latest: Event | None,
    counts: Counts,
    tickets: list[Ticket],
    now: datetime,
) -> list[str]:
    """Why `spec` fires for `issue` now (empty: it does not), before asking whether it already did."""
    if not spec.filters.match(issue, latest):
        return []
    trigger = spec.trigger
    if trigger is RuleTrigger.NEW_ISSUE:
        fresh = issue.created_at >= spec.created_at and issue.created_at >= now - NEW_FOR
        return ["new"] if fresh else []
    if trigger is RuleTrigger.REGRESSION:
        at = counts.regressed_at
        return [f"regression:{at.isoformat()}"] if at is not None and at >= spec.created_at else []
    threshold = spec.threshold or 0
    if trigger is RuleTrigger.EVENT_RATE:
        seen = await counts.in_window(session, spec.window_seconds or 3600, now)
        return [RATE] if seen > threshold else []
    return [
        f"ticket:{t.external_issue_id}"
        for t in tickets
        if spec.installation_id in (None, t.installation_id) and issue.times_seen - t.baseline > threshold
    ]


async def already(
    session: AsyncSession, rule_id: int, issue_id: int, cause: str, spec: RuleSpec, now: datetime
) -> bool:
    """Whether the rule fired for this cause already (for `rate`: within the window)."""
    found = [RuleFiring.rule_id == rule_id, RuleFiring.issue_id == issue_id, RuleFiring.cause == cause]
    if cause == RATE:
        found.append(RuleFiring.created_at > now - timedelta(seconds=spec.window_seconds or 3600))
    return bool(await session.scalar(select(exists().where(*found))))


async def fired(session: AsyncSession, rule_ids: list[int], issue_id: int) -> dict[tuple[int, str], datetime]:
    """When each of the rules last fired for the issue, per cause: what `already` asks, for every rule
    of an evaluation in one query."""
    if not rule_ids:
        return {}
    rows = await session.execute(
        select(RuleFiring.rule_id, RuleFiring.cause, func.max(RuleFiring.created_at))
        .where(RuleFiring.rule_id.in_(rule_ids), RuleFiring.issue_id == issue_id)
        .group_by(RuleFiring.rule_id, RuleFiring.cause)
    )
    return {(rule_id, cause): at for rule_id, cause, at in rows}


def fired_already(
    last: dict[tuple[int, str], datetime], rule_id: int, cause: str, spec: RuleSpec, now: datetime
) -> bool:
    """`already`, answered from `fired`."""
    at = last.get((rule_id, cause))
    if at is None:
        return False
    return cause != RATE or at > now - timedelta(seconds=spec.window_seconds or 3600)
