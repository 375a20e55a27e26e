"""Applying what a tracker says about a ticket (a webhook, a reconcile read) to Conduit.

Shared by sync in and reconcile, so a lost webhook and a delivered one end the same way. A change
older than the cached one is dropped (the tracker's `updated_at` is the watermark); a change with the
same time and the same fields is an echo of one Conduit made itself, or a duplicate, and is dropped too.
"""

from __future__ import annotations

import enum
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.connectors import StatusCategory, SyncConfig, TicketRecord
from conduit.db.base import utcnow
from conduit.db.models import ExternalIssue, Installation, Issue, IssueLink, IssueStatus
from conduit.db.models.comments import MAX_BODY, Comment
from conduit.db.models.integrations import TrackerComment
from conduit.events.emit import emit
from conduit.sync import cache, people


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
    session: AsyncSession,
    installation: Installation,
    e: ExternalIssue,
    issues: list[Issue],
    record: TicketRecord,
    tracker_user: str | None,
) -> None:
    """Assign the member the tracker's assignee is (by email, else by stored tracker account); an
    unassigned ticket unassigns. An assignee who is no member is said on the ticket's row."""
    member_id: int | None = None
    if record.assignee_email or record.assignee_id:
        member = await people.member_for(session, installation, record.assignee_email, record.assignee_id)
        if member is None:
            who = record.assignee or record.assignee_id or record.assignee_email
            e.sync_error = (
                f"{who} was assigned in {installation.provider} but matches no member: their email is "
                f"hidden or unknown here. Assign them once from Conduit so the two are linked."
            )[:1000]
            return
        member_id = member.id
    e.sync_error = None
    actor = {**cache.sync_actor(installation), "tracker_user": tracker_user}
    for issue in issues:
        if issue.assignee_id != member_id:
            issue.assignee_id = member_id
            data = {"issue_id": issue.id, "project_id": issue.project_id, "assignee_id": member_id}
            emit(session, "issue.assigned", issue.organization_id, data, actor=actor)


async def apply_record(
    session: AsyncSession,
    installation: Installation,
    config: SyncConfig,
    e: ExternalIssue,
    record: TicketRecord,
    tracker_user: str | None = None,
) -> Outcome:
    """`tracker_user`: who made the change in the tracker, when a webhook says."""
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
    if record.key != e.key and await _key_taken(session, e, record.key):
        # Moved onto a key another row already holds (linked by hand meanwhile): keep ours.
        record = replace(record, key=e.key)
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
        await set_assignee(session, installation, e, issues, record, tracker_user)
    return Outcome.APPLIED


async def _key_taken(session: AsyncSession, e: ExternalIssue, key: str) -> bool:
    found = await session.execute(
        select(ExternalIssue.id).where(
            ExternalIssue.installation_id == e.installation_id,
            ExternalIssue.key == key,
            ExternalIssue.id != e.id,
        )
    )
    return found.first() is not None


async def apply_comment(
    session: AsyncSession,
    installation: Installation,
    e: ExternalIssue,
    comment_id: str,
    body: str,
    author: str | None,
    author_name: str | None = None,
) -> Outcome:
    """A comment written on the ticket in the tracker, added to each linked issue.

    A comment Conduit posted itself is known by its id (sync out records it, and the apply job runs
    after the push, both ordered by the ticket), and so is one delivered twice: neither is added.
    The author is the member the tracker user is, where known; else the comment keeps their name.
    Its `comment.created` event names the tracker as actor, so sync out sends it to the issue's other
    tickets but never back to this one.
    """
    known = await session.execute(
        select(TrackerComment.id).where(
            TrackerComment.installation_id == installation.id, TrackerComment.external_id == comment_id
        )
    )
    if known.first() is not None or not body.strip():
        return Outcome.UNCHANGED
    issues = await linked_issues(session, e)
    if not issues:
        return Outcome.UNCHANGED
    member = await people.member_for(session, installation, None, author) if author else None
    made: list[Comment] = []
    for issue in issues:
        row = Comment(
            organization_id=issue.organization_id,
            issue_id=issue.id,
            author_id=member.id if member else None,
            body=body[:MAX_BODY],
            source_installation_id=installation.id,
            source_provider=installation.provider,
            author_name=None if member else (author_name or author),
        )
        session.add(row)
        made.append(row)
    await session.flush()
    session.add(
        TrackerComment(
            organization_id=installation.organization_id,
            installation_id=installation.id,
            comment_id=made[0].id,
            external_id=comment_id[:200],
        )
    )
    for issue, row in zip(issues, made, strict=True):
        data = {"issue_id": issue.id, "project_id": issue.project_id, "comment_id": row.id}
        emit(session, "comment.created", issue.organization_id, data, actor=cache.sync_actor(installation))
    return Outcome.APPLIED
