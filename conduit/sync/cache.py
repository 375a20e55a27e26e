"""The ExternalIssue cache: what the tracker last said about a ticket, and the events a change makes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.connectors import StatusCategory, TicketRecord
from conduit.db.base import utcnow
from conduit.db.models import ExternalIssue, Installation, IssueLink
from conduit.events.emit import emit
from conduit.ids import encode


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def external_issue_resource(e: ExternalIssue) -> dict[str, Any]:
    return {
        "id": encode("ExternalIssue", e.id),
        "installation_id": encode("Installation", e.installation_id),
        "key": e.key,
        "url": e.url,
        "title": e.title,
        "status": e.status,
        "status_category": e.status_category,
        "assignee": e.assignee,
        "updated_at": _time(e.updated_at),
        "deleted": e.deleted,
    }


def link_resource(link: IssueLink) -> dict[str, Any]:
    return {
        "id": encode("IssueLink", link.id),
        "issue_id": encode("Issue", link.issue_id),
        "external_issue_id": encode("ExternalIssue", link.external_issue_id),
        "created_at": _time(link.created_at),
    }


def sync_actor(installation: Installation) -> dict[str, Any]:
    """Who a sync-made change is attributed to: the tracker, through this installation."""
    return {
        "type": "tracker",
        "id": encode("Installation", installation.id),
        "provider": installation.provider,
        "reason": "sync",
    }


def known_record(e: ExternalIssue) -> TicketRecord:
    """The cached copy, as a connector takes it for conditional reads."""
    return TicketRecord(
        key=e.key,
        url=e.url,
        title=e.title,
        status=e.status,
        status_category=StatusCategory(e.status_category),
        assignee_email=None,
        updated_at=e.updated_at,
        etag=e.etag,
        deleted=e.deleted,
        assignee=e.assignee,
        tracker_id=e.tracker_id,
    )


def differences(e: ExternalIssue, record: TicketRecord) -> list[str]:
    changes = []
    if record.key != e.key and not record.deleted:
        changes.append("key")  # moved: the tracker's stable id matched it, its key is new
    if record.title and record.title != e.title:
        changes.append("title")
    if record.status != e.status or record.status_category.value != e.status_category:
        changes.append("status")
    if (record.assignee or record.assignee_email) != e.assignee:
        changes.append("assignee")
    if record.deleted != e.deleted:
        changes.append("deleted")
    return changes


def store(e: ExternalIssue, record: TicketRecord) -> list[str]:
    """Write `record` into the cache row; returns the fields that changed."""
    e.last_synced_at = utcnow()
    if record.not_modified:
        return []
    changes = differences(e, record)
    if record.deleted:
        e.deleted = True
        e.etag = None
        return changes
    e.key = record.key
    e.tracker_id = record.tracker_id or e.tracker_id
    e.url = record.url or e.url
    e.title = record.title or e.title
    e.status = record.status
    e.status_category = record.status_category.value
    e.assignee = record.assignee or record.assignee_email
    e.updated_at = record.updated_at or e.updated_at
    e.etag = record.etag
    e.deleted = False
    return changes


def announce(session: AsyncSession, e: ExternalIssue, changes: list[str]) -> None:
    if changes:
        data = {"external_issue": external_issue_resource(e), "changes": changes}
        emit(session, "external_issue.updated", e.organization_id, data)


async def mark_broken(session: AsyncSession, e: ExternalIssue) -> None:
    await session.execute(
        update(IssueLink)
        .where(IssueLink.external_issue_id == e.id, IssueLink.organization_id == e.organization_id)
        .values(broken=True)
        .execution_options(synchronize_session=False)
    )


async def find(session: AsyncSession, installation_id: int, key: str) -> ExternalIssue | None:
    stmt = select(ExternalIssue).where(
        ExternalIssue.installation_id == installation_id, ExternalIssue.key == key
    )
    return (await session.execute(stmt)).scalar_one_or_none()
