"""Sync out: a change in Conduit becomes a job per linked ticket, run in order per ticket.

A job does not replay the event: it reads the issue as it is now and makes the ticket match, so
retries, duplicates and reordering between kinds of change all settle on the latest state.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.connectors import SyncConfig, get_connectors
from conduit.connectors.errors import NotFound
from conduit.db.models import ExternalIssue, Installation, InstallationStatus, IssueLink, IssueStatus, Member
from conduit.jobs import outbox
from conduit.jobs.context import JobContext
from conduit.jobs.errors import PermanentFailure
from conduit.runtime import Runtime
from conduit.schema import ids
from conduit.sync import cache
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
    body: str | None = None,
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
        payload: dict[str, Any] = {"external_issue_id": external_id, "what": what}
        if body is not None:
            payload["body"] = body
        outbox.add(session, PUSH_KIND, payload, organization_id=organization_id, key=ticket_key(external_id))
        queued += 1
    return queued


async def on_event(ctx: JobContext, payload: dict[str, Any]) -> int:
    """Called for each published catalog event; queues the ticket changes it calls for."""
    what = WHAT.get(str(payload.get("type")))
    data = payload.get("data") or {}
    org_id = ctx.organization_id
    issue_id = data.get("issue_id") if isinstance(data, dict) else None
    if what is None or org_id is None or not isinstance(issue_id, int):
        return 0
    body = None
    if what == "comment":
        comment = data.get("comment")
        source = comment if isinstance(comment, dict) else data
        body = str(source.get("body") or "") or None
        if body is None:
            return 0
    skip = source_installation(payload.get("actor"))
    async with ctx.runtime.sessions() as session:
        queued = await queue_pushes(session, org_id, issue_id, what, skip, body)
        await session.commit()
    return queued


async def push(runtime: Runtime, external_issue_id: int, what: str, body: str | None = None) -> str:
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
        email: str | None = None
        if what == "assignee" and issues[0].assignee_id is not None:
            member = await session.get(Member, issues[0].assignee_id)
            email = member.email if member else None
        key = external.key
    connector = get_connectors(runtime).bind(installation)
    try:
        if what == "status":
            if not config.status_outbound:
                return "skipped: status sync out is off"
            # One ticket for several issues is done when all of them are.
            resolved = all(i.status is IssueStatus.RESOLVED for i in issues)
            record = await connector.set_status(key, resolved, config)
        elif what == "assignee":
            if not config.assignee_outbound:
                return "skipped: assignee sync out is off"
            record = await connector.assign(key, email)
        elif what == "comment":
            if not config.comments_outbound or not body:
                return "skipped: comment sync out is off"
            await connector.comment(key, body)
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
            # Our own change sets the watermark: its webhook echo then finds nothing new.
            cache.announce(session, external, cache.store(external, record))
            await session.commit()
    return f"{what} pushed"
