"""What a rule would do, asked before it is saved or switched on: the same decisions, nothing written.

The issues of the project seen since `since` are taken oldest first (as evaluations would have met
them), and each is decided by `triggers.causes` over the counts an evaluation would see now
(`counts.peek`) and its live tickets. The rule's hourly limit is played out over the matches, starting
empty, as it would for a new rule; a tracker that is throttling now holds every new ticket back. No row
is written, no tracker is called, no event is emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.models import FiringOutcome, Installation, InstallationStatus, Issue, Project, TicketRequest
from conduit.rules import counts, evaluate, quota, tickets, triggers
from conduit.rules.definition import RuleSpec
from conduit.runtime import Runtime

MAX_ISSUES = 200


@dataclass(frozen=True, slots=True)
class Match:
    issue: Issue
    cause: str
    action: str  # ticket / event
    outcome: FiringOutcome  # CREATED meaning "would create"
    reason: str | None
    title: str | None
    description: str | None
    external_issue_id: int | None


@dataclass(frozen=True, slots=True)
class Preview:
    matches: list[Match]
    examined: int
    # More issues were seen since `since` than were examined (the oldest MAX_ISSUES were), or they
    # matched more than MAX_ISSUES times.
    truncated: bool


async def preview(
    runtime: Runtime,
    session: AsyncSession,
    organization_id: int,
    project_id: int,
    spec: RuleSpec,
    since: datetime,
    now: datetime,
) -> Preview:
    spec = RuleSpec(**{**{f: getattr(spec, f) for f in spec.__slots__}, "created_at": since})
    issues = list(
        (
            await session.execute(
                select(Issue)
                .where(
                    Issue.organization_id == organization_id,
                    Issue.project_id == project_id,
                    Issue.last_seen >= since,
                )
                .order_by(Issue.created_at, Issue.id)
                .limit(MAX_ISSUES + 1)
            )
        ).scalars()
    )
    truncated = len(issues) > MAX_ISSUES
    issues = issues[:MAX_ISSUES]
    project = await session.get(Project, project_id)
    installation = await session.get(Installation, spec.installation_id) if spec.installation_id else None
    limited_at = await evaluate.throttled(session, installation.id, now) if installation is not None else None
    taken: list[datetime] = []
    matches: list[Match] = []
    for issue in issues:
        seen = await counts.peek(session, issue, now)
        latest = await evaluate.latest_event(session, issue.id)
        linked = await tickets.linked(session, issue, write=False)
        for cause in await triggers.causes(session, spec, issue, latest, seen, linked, now):
            if spec.installation_id is None:
                matches.append(Match(issue, cause, "event", FiringOutcome.EMITTED, None, None, None, None))
                continue
            context = evaluate.context_of(runtime, issue, latest, project.name if project else "")
            title, description = (
                context.title(spec.title_template),
                context.description(spec.description_template),
            )
            outcome, reason, external = FiringOutcome.CREATED, None, None
            there = next((t for t in linked if t.installation_id == spec.installation_id), None)
            if installation is None or installation.status is not InstallationStatus.ACTIVE:
                outcome, reason = FiringOutcome.FAILED, "the installation is not active"
            elif there is not None:
                outcome, reason, external = (
                    FiringOutcome.LINKED,
                    f"the issue already has {there.key}",
                    there.external_issue_id,
                )
            elif await _requested(session, issue.id, installation.id):
                outcome, reason = FiringOutcome.LINKED, "a ticket for this issue was already asked for"
            elif limited_at is not None:
                outcome, reason = FiringOutcome.SUPPRESSED, "tracker throttled"
            elif quota.free_at(taken, spec.max_tickets_per_hour) is not None:
                outcome, reason = (
                    FiringOutcome.SUPPRESSED,
                    f"rule limit: {spec.max_tickets_per_hour} ticket(s) per hour",
                )
            else:
                taken.append(now)
            matches.append(Match(issue, cause, "ticket", outcome, reason, title, description, external))
    return Preview(matches[:MAX_ISSUES], len(issues), truncated or len(matches) > MAX_ISSUES)


async def _requested(session: AsyncSession, issue_id: int, installation_id: int) -> bool:
    found = await session.scalar(
        select(TicketRequest.id)
        .where(
            TicketRequest.issue_id == issue_id,
            TicketRequest.installation_id == installation_id,
            TicketRequest.idempotency_key.is_not(None),
        )
        .limit(1)
    )
    return found is not None
