"""The tickets an issue is linked to, as rules see them, and the milestones said on each.

A ticket is tracked (`RuleTicket`) the first time rules see it. One a rule asked for starts from the
count the rule fired at, with no milestone said yet, so its first evaluation comments the milestone the
issue has reached (a ticket made at 101 events hears about 100). One linked by hand starts from the
count and milestone of the moment it is found: only milestones crossed from then on are said.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.models import ExternalIssue, Issue, IssueLink, RuleFiring, RuleTicket, TicketRequest
from conduit.rules.triggers import Ticket

FIRST_MILESTONE = 10


def milestone_of(count: int) -> int:
    """The highest of 10, 100, 1,000, ... that `count` has reached; 0 below 10."""
    reached, step = 0, FIRST_MILESTONE
    while step <= count:
        reached, step = step, step * 10
    return reached


async def linked(session: AsyncSession, issue: Issue, *, write: bool = True) -> list[Ticket]:
    """The issue's live tickets (not deleted, link not broken), with what rules know of each; a ticket
    rules had not seen is tracked from now on, unless `write` is False (the preview)."""
    rows = await session.execute(
        select(ExternalIssue.id, ExternalIssue.installation_id, ExternalIssue.key, RuleTicket)
        .join(IssueLink, IssueLink.external_issue_id == ExternalIssue.id)
        .outerjoin(RuleTicket, RuleTicket.external_issue_id == ExternalIssue.id)
        .where(
            IssueLink.organization_id == issue.organization_id,
            IssueLink.issue_id == issue.id,
            IssueLink.broken.is_(False),
            ExternalIssue.deleted.is_(False),
        )
        .order_by(ExternalIssue.id)
    )
    out = []
    for external_id, installation_id, key, known in rows:
        if known is None and write:
            known = await track(session, issue, external_id)
        baseline, milestone = (
            (known.baseline, known.milestone)
            if known is not None
            else await start(session, issue, external_id)
        )
        out.append(Ticket(external_id, installation_id, key, baseline, milestone))
    return out


async def start(session: AsyncSession, issue: Issue, external_issue_id: int) -> tuple[int, int]:
    """The baseline and the milestone already said of a ticket rules see for the first time."""
    made_at = await session.scalar(
        select(RuleFiring.count)
        .join(TicketRequest, TicketRequest.id == RuleFiring.ticket_request_id)
        .where(
            RuleFiring.issue_id == issue.id,
            TicketRequest.external_issue_id == external_issue_id,
        )
        .order_by(RuleFiring.id)
        .limit(1)
    )
    if made_at is not None:
        return int(made_at), 0
    return issue.times_seen, milestone_of(issue.times_seen)


async def track(session: AsyncSession, issue: Issue, external_issue_id: int) -> RuleTicket:
    """The ticket's RuleTicket, made now if rules had not seen it (see the module docstring)."""
    baseline, milestone = await start(session, issue, external_issue_id)
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(RuleTicket)
    await session.execute(
        insert.values(
            organization_id=issue.organization_id,
            external_issue_id=external_issue_id,
            issue_id=issue.id,
            baseline=baseline,
            milestone=milestone,
        ).on_conflict_do_nothing(index_elements=["external_issue_id"])
    )
    row = (
        await session.execute(
            select(RuleTicket)
            .where(RuleTicket.external_issue_id == external_issue_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return row


async def claim_milestone(session: AsyncSession, external_issue_id: int, reached: int) -> bool:
    """Record `reached` as said on the ticket; False when it (or a later one) already was."""
    result = await session.execute(
        update(RuleTicket)
        .where(RuleTicket.external_issue_id == external_issue_id, RuleTicket.milestone < reached)
        .values(milestone=reached)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
