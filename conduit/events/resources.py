"""From what the outbox records (ids) to what integrators receive (the resources themselves).

Emitters write ids in the transaction of the change, which keeps outbox rows small and lets the
sync jobs act on ids. Webhooks and subscriptions carry the resource, loaded when the event is
published, scoped to the event's organization.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.models import Event, Issue
from conduit.db.models.comments import Comment
from conduit.db.tenancy import TenantScope
from conduit.ids import encode
from conduit.webhooks.payloads import event_resource, issue_resource


class ResourceGone(LookupError):
    """The row an event names no longer exists (deleted since): there is nothing to send."""


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
    if event_type == "comment.created" and "comment" not in data and isinstance(data.get("comment_id"), int):
        comment = await scope.get(Comment, data["comment_id"])
        if comment is None:
            raise ResourceGone(f"comment {data['comment_id']} no longer exists")
        return {"comment": comment_resource(comment)}
    return data


def comment_resource(comment: Comment) -> dict[str, Any]:
    return {
        "id": encode("Comment", comment.id),
        "issue_id": encode("Issue", comment.issue_id),
        "author_id": None if comment.author_id is None else encode("Member", comment.author_id),
        "body": comment.body,
        "created_at": comment.created_at.astimezone(UTC).isoformat(),
    }
