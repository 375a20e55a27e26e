"""Applying what a tracker says about a ticket (a webhook, a reconcile read) to Conduit.

Shared by sync in and reconcile, so a lost webhook and a delivered one end the same way. A change
older than the cached one is dropped (the tracker's `updated_at` is the watermark); a change with the
same time and the same fields is an echo of one Conduit made itself, or a duplicate, and is dropped too.
"""

from __future__ import annotations

import enum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.connectors import StatusCategory, SyncConfig, TicketRecord
from conduit.db.base import utcnow
from conduit.db.models import ExternalIssue, Installation, Issue, IssueLink, IssueStatus, Member
from conduit.events.emit import emit
from conduit.sync import cache


class Outcome(enum.StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"  # nothing new (an echo of our own change, a duplicate, a 304)
    STALE = "stale"  # older than what we have: a late, out-of-order delivery


async def linked_issues(session: AsyncSession, e: ExternalIssue) -> list[Issue]:
    stmt = (
        select(Issue)
        .join(IssueLink, IssueLink.issue_id == Issue.id)
        .where(
            IssueLink.external_issue_id == e.id,
            IssueLink.organization_id == e.organization_id,
            IssueLink.broken.is_(False),
        )
        .order_by(Issue.id)
        .with_for_update(of=Issue)
    )
    return list((await session.execute(stmt)).scalars())


async def set_status(
    session: AsyncSession, installation: Installation, issues: list[Issue], resolved: bool
) -> list[int]:
    """Resolve or reopen the issues, each firing its event with the sync as actor."""
    changed = []
    for issue in issues:
        if resolved and issue.status is not IssueStatus.RESOLVED:
            issue.status, issue.resolved_at, event = IssueStatus.RESOLVED, utcnow(), "issue.resolved"
        elif not resolved and issue.status is IssueStatus.RESOLVED:
            issue.status, issue.resolved_at, event = IssueStatus.UNRESOLVED, None, "issue.unresolved"
        else:
            continue
        data = {"issue_id": issue.id, "project_id": issue.project_id}
        emit(session, event, issue.organization_id, data, actor=cache.sync_actor(installation))
        changed.append(issue.id)
    return changed


async def set_assignee(
    session: AsyncSession, installation: Installation, issues: list[Issue], email: str | None
) -> None:
    """Assign to the member with the tracker assignee's email; a hidden email leaves things as they are."""
    if email is None:
        return
    member = (
        await session.execute(
            select(Member).where(
                Member.organization_id == installation.organization_id,
                func.lower(Member.email) == email.lower(),
            )
        )
    ).scalar_one_or_none()
    if member is None:
        return
    for issue in issues:
        if issue.assignee_id != member.id:
            issue.assignee_id = member.id
            data = {"issue_id": issue.id, "project_id": issue.project_id, "assignee_id": member.id}
            emit(session, "issue.assigned", issue.organization_id, data, actor=cache.sync_actor(installation))


async def apply_record(
    session: AsyncSession,
    installation: Installation,
    config: SyncConfig,
    e: ExternalIssue,
    record: TicketRecord,
) -> Outcome:
    if record.not_modified:
        cache.store(e, record)
        return Outcome.UNCHANGED
    if record.deleted:
        changes = cache.store(e, record)
        if changes:
            await cache.mark_broken(session, e)
            cache.announce(session, e, changes)
            return Outcome.APPLIED
        return Outcome.UNCHANGED
    if e.updated_at is not None and record.updated_at is not None:
        if record.updated_at < e.updated_at:
            return Outcome.STALE
        if record.updated_at == e.updated_at and not cache.differences(e, record):
            cache.store(e, record)
            return Outcome.UNCHANGED
    was_resolved = config.is_resolved(e.status, StatusCategory(e.status_category))
    changes = cache.store(e, record)
    if not changes:
        return Outcome.UNCHANGED
    cache.announce(session, e, changes)
    issues = await linked_issues(session, e)
    if "status" in changes and config.status_inbound:
        now_resolved = config.is_resolved(record.status, record.status_category)
        if now_resolved != was_resolved:
            await set_status(session, installation, issues, now_resolved)
    if "assignee" in changes and config.assignee_inbound:
        await set_assignee(session, installation, issues, record.assignee_email)
    return Outcome.APPLIED
