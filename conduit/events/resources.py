"""From what the outbox records (ids) to what integrators receive (the resources themselves).

Emitters write ids in the transaction of the change, which keeps outbox rows small and lets the
sync jobs act on ids. Webhooks and subscriptions carry the resource, loaded when the event is
published, scoped to the event's organization, in the shape the catalog's schemas describe
(conduit.events.schemas).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db import models
from conduit.db.models import Event, Issue
from conduit.db.models.comments import Comment
from conduit.db.tenancy import TenantScope
from conduit.errors import NotFound
from conduit.ids import encode


class ResourceGone(NotFound):
    """The row an event names no longer exists (deleted since): there is nothing to send."""


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


async def expand(
    session: AsyncSession, organization_id: int, event_type: str, data: dict[str, Any]
) -> dict[str, Any]:
    scope = TenantScope(session, organization_id)
    if event_type.startswith("issue.") and "issue" not in data and isinstance(data.get("issue_id"), int):
        issue = await scope.get(Issue, data["issue_id"])
        if issue is None:
            raise ResourceGone(f"issue {data['issue_id']} no longer exists")
        return {"issue": issue_resource(issue)}
    if event_type == "event.created" and "event" not in data and isinstance(data.get("event_id"), int):
        event = await scope.get(Event, data["event_id"])
        if event is None:
            raise ResourceGone(f"event {data['event_id']} no longer exists")
        return {"event": event_resource(event)}
    if (
        event_type == "tracker_installation.failed"
        and "installation" not in data
        and isinstance(data.get("installation_id"), int)
    ):
        installation = await scope.get(models.Installation, data["installation_id"])
        if installation is None:
            raise ResourceGone(f"installation {data['installation_id']} no longer exists")
        return {"installation": installation_resource(installation)}
    if event_type == "comment.created" and "comment" not in data and isinstance(data.get("comment_id"), int):
        comment = await scope.get(Comment, data["comment_id"])
        if comment is None:
            raise ResourceGone(f"comment {data['comment_id']} no longer exists")
        return {"comment": comment_resource(comment)}
    return data


def _names_issue(event_type: str, data: dict[str, Any]) -> bool:
    return event_type.startswith("issue.") and "issue" not in data and isinstance(data.get("issue_id"), int)


async def expand_many(
    session: AsyncSession, items: Sequence[tuple[int, str, dict[str, Any]]]
) -> list[dict[str, Any] | ResourceGone]:
    """`expand` for many events, (organization id, type, data) each: the issues they name are read in
    one query per organization. A `ResourceGone` in the result stands for an event with nothing to send."""
    wanted: dict[int, set[int]] = {}
    for organization_id, event_type, data in items:
        if _names_issue(event_type, data):
            wanted.setdefault(organization_id, set()).add(data["issue_id"])
    issues = {
        organization_id: await TenantScope(session, organization_id).get_many(Issue, sorted(ids))
        for organization_id, ids in wanted.items()
    }
    out: list[dict[str, Any] | ResourceGone] = []
    for organization_id, event_type, data in items:
        if _names_issue(event_type, data):
            issue = issues[organization_id].get(data["issue_id"])
            out.append(
                {"issue": issue_resource(issue)}
                if issue is not None
                else ResourceGone(f"issue {data['issue_id']} no longer exists")
            )
            continue
        try:
            out.append(await expand(session, organization_id, event_type, data))
        except ResourceGone as gone:
            out.append(gone)
    return out


def comment_resource(comment: Comment) -> dict[str, Any]:
    return {
        "id": encode("Comment", comment.id),
        "issue_id": encode("Issue", comment.issue_id),
        "author_id": None if comment.author_id is None else encode("Member", comment.author_id),
        "body": comment.body,
        "created_at": comment.created_at.astimezone(UTC).isoformat(),
        "source": comment_source(comment),
    }


def comment_source(comment: Comment) -> dict[str, Any] | None:
    if comment.source_installation_id is None:
        return None
    return {
        "installation_id": encode("Installation", comment.source_installation_id),
        "provider": comment.source_provider or "",
        "author_name": comment.author_name,
    }


def installation_resource(installation: models.Installation) -> dict[str, Any]:
    """A tracker installation as events carry it: never its credentials, base URL or hook token."""
    return {
        "id": encode("Installation", installation.id),
        "provider": installation.provider,
        "status": installation.status.value,
        "status_reason": installation.status_reason,
        "account_name": installation.account_name,
        "created_at": _time(installation.created_at),
    }


def issue_resource(issue: models.Issue) -> dict[str, Any]:
    return {
        "id": encode("Issue", issue.id),
        "project_id": encode("Project", issue.project_id),
        "title": issue.title,
        "culprit": issue.culprit,
        "level": issue.level,
        "status": str(issue.status),
        "count": issue.times_seen,
        "first_seen": _time(issue.first_seen),
        "last_seen": _time(issue.last_seen),
        "resolved_at": _time(issue.resolved_at),
        "assignee_id": None if issue.assignee_id is None else encode("Member", issue.assignee_id),
    }


def event_resource(event: models.Event) -> dict[str, Any]:
    return {
        "id": encode("Event", event.id),
        "event_id": event.event_id,
        "issue_id": encode("Issue", event.issue_id),
        "project_id": encode("Project", event.project_id),
        "timestamp": _time(event.timestamp),
        "received_at": _time(event.received_at),
        "platform": event.platform,
        "level": event.level,
        "message": event.message,
        "exception_type": event.exception_type,
        "exception_value": event.exception_value,
        "release": event.release,
        "environment": event.environment,
        "tags": dict(event.tags or {}),
    }
