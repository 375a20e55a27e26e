"""Sync out: a change in Conduit becomes a job per linked ticket, run in order per ticket.

A job does not replay the event: it reads the issue as it is now and makes the ticket match, so
retries, duplicates and reordering between kinds of change all settle on the latest state.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conduit import ids
from conduit.connectors import SyncConfig, get_connectors
from conduit.connectors.errors import NotFound
from conduit.db.models import ExternalIssue, Installation, InstallationStatus, IssueLink, IssueStatus, Member
from conduit.db.models.comments import Comment
from conduit.db.models.integrations import TrackerComment
from conduit.jobs import outbox
from conduit.jobs.errors import PermanentFailure
from conduit.runtime import Runtime
from conduit.sync import cache, people
from conduit.sync.apply import linked_issues

PUSH_KIND = "tracker.ticket.push"
# Which Conduit event changes what on the ticket.
WHAT = {
    "issue.resolved": "status",
    "issue.unresolved": "status",
    "issue.assigned": "assignee",
    "comment.created": "comment",
}


def ticket_key(external_issue_id: int) -> str:
    return f"ticket:{external_issue_id}"


def source_installation(actor: Any) -> int | None:
    """The installation a sync-made change came through: never sent back to it."""
    if not isinstance(actor, dict) or actor.get("type") != "tracker":
        return None
    try:
        return ids.decode_as(str(actor.get("id")), "Installation")
    except ids.InvalidId:
        return None


async def queue_pushes(
    session: AsyncSession,
    organization_id: int,
    issue_id: int,
    what: str,
    skip_installation: int | None,
    comment_id: int | None = None,
) -> int:
    rows = await session.execute(
        select(ExternalIssue.id, ExternalIssue.installation_id)
        .join(IssueLink, IssueLink.external_issue_id == ExternalIssue.id)
        .where(
            IssueLink.organization_id == organization_id,
            IssueLink.issue_id == issue_id,
            IssueLink.broken.is_(False),
            ExternalIssue.deleted.is_(False),
        )
    )
    queued = 0
    for external_id, installation_id in rows:
        if installation_id == skip_installation:
            continue
        outbox.enqueue(
            session,
            PUSH_KIND,
            external_id,
            what,
            comment_id,
            organization_id=organization_id,
            key=ticket_key(external_id),
        )
        queued += 1
    return queued


async def on_event(
    runtime: Runtime,
    org_id: int,
    event_type: str,
    data: dict[str, Any],
    actor: dict[str, Any] | None,
) -> int:
    """Called for each published catalog event (by its current name, with the ids it was emitted
    with); queues the ticket changes it calls for."""
    what = WHAT.get(event_type)
    issue_id = data.get("issue_id") if isinstance(data, dict) else None
    if what is None or not isinstance(issue_id, int):
        return 0
    comment_id: int | None = None
    if what == "comment":
        comment_id = data.get("comment_id")
        if not isinstance(comment_id, int):
            return 0
    skip = source_installation(actor)
    async with runtime.sessions() as session:
        queued = await queue_pushes(session, org_id, issue_id, what, skip, comment_id)
        await session.commit()
    return queued


async def record_error(runtime: Runtime, external_issue_id: int, reason: str | None) -> None:
    """Say on the ticket's cache row why a change was not made (None: the last one went through)."""
    async with runtime.sessions() as session:
        external = await session.get(ExternalIssue, external_issue_id)
        if external is not None and external.sync_error != reason:
            external.sync_error = reason[:1000] if reason else None
            await session.commit()


async def _remember_comment(
    runtime: Runtime, external_issue_id: int, comment_id: int | None, posted_id: str
) -> None:
    """Keep the tracker's id for the copy of a comment just posted, so its webhook echo is known (see
    `conduit.sync.apply.apply_comment`), and clear the ticket's sync error."""
    async with runtime.sessions() as session:
        external = await session.get(ExternalIssue, external_issue_id)
        if external is None:
            return
        external.sync_error = None
        if comment_id is not None and posted_id:
            session.add(
                TrackerComment(
                    organization_id=external.organization_id,
                    installation_id=external.installation_id,
                    comment_id=comment_id,
                    external_id=posted_id[:200],
                )
            )
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()  # a re-run of this push recorded it already


async def push(runtime: Runtime, external_issue_id: int, what: str, comment_id: int | None = None) -> str:
    """Make one ticket match its issues now; returns what was done, for the job log."""
    async with runtime.sessions() as session:
        external = await session.get(ExternalIssue, external_issue_id)
        if external is None or external.deleted:
            return "skipped: the ticket is gone"
        installation = await session.get(Installation, external.installation_id)
        assert installation is not None
        if installation.status is not InstallationStatus.ACTIVE:
            raise PermanentFailure(
                f"the {installation.provider} installation is {installation.status.value}: "
                f"{installation.status_reason or 'it is not active'}"
            )
        config = SyncConfig.from_json(installation.config)
        issues = await linked_issues(session, external)
        if not issues:
            return "skipped: no linked issue"
        member: Member | None = None
        if what == "assignee" and issues[0].assignee_id is not None:
            member = await session.get(Member, issues[0].assignee_id)
        key = external.key
        known = cache.known_record(external)
        body: str | None = None
        if what == "comment" and comment_id is not None:
            comment = await session.get(Comment, comment_id)
            body = comment.body if comment is not None else None
    connector = get_connectors(runtime).bind(installation)
    try:
        if what == "status":
            if not config.status_outbound:
                return "skipped: status sync out is off"
            # One ticket for several issues is done when all of them are.
            resolved = all(i.status is IssueStatus.RESOLVED for i in issues)
            record = await connector.set_status(key, resolved, config, known)
            ours = config.is_resolved(record.status, record.status_category) == resolved
        elif what == "assignee":
            if not config.assignee_outbound:
                return "skipped: assignee sync out is off"
            account = await people.account_for(runtime, connector, installation, member) if member else None
            if member is not None and account is None:
                reason = (
                    f"{member.email} is not assigned in {installation.provider}: no user there shows "
                    f"that email. Make the email public in the tracker, or assign the ticket there once "
                    f"so Conduit learns who they are."
                )
                await record_error(runtime, external_issue_id, reason)
                return f"skipped: {reason}"
            record = await connector.assign(key, account)
            ours = record.assignee_id == account
        elif what == "comment":
            if not config.comments_outbound:
                return "skipped: comment sync out is off"
            if not body:
                return "skipped: the comment is gone"
            posted = await connector.comment(key, body)
            await _remember_comment(runtime, external_issue_id, comment_id, posted.id)
            return "commented"
        else:
            raise PermanentFailure(f"unknown ticket change {what!r}")
    except NotFound:
        async with runtime.sessions() as session:
            external = await session.get(ExternalIssue, external_issue_id)
            if external is not None:
                cache.announce(session, external, cache.store(external, connector.deleted(key, None)))
                await cache.mark_broken(session, external)
                await session.commit()
        return "the ticket is gone: link marked broken"
    async with runtime.sessions() as session:
        external = await session.get(ExternalIssue, external_issue_id)
        if external is not None:
            external.sync_error = None
            # Our own change sets the watermark: its webhook echo then finds nothing new. A ticket
            # read back in another state was changed in the tracker meanwhile: the cache is left
            # as it was, so that change's webhook (or reconcile) still applies it here.
            if ours:
                cache.announce(session, external, cache.store(external, record))
            await session.commit()
    return f"{what} pushed"
