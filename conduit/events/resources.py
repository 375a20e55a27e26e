"""From what the outbox records (ids) to what integrators receive (the resources themselves).

Emitters write ids in the transaction of the change, which keeps outbox rows small and lets the
sync jobs act on ids. Webhooks and subscriptions carry the resource, loaded when the event is
published, scoped to the event's organization.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.models import Event, Issue
from conduit.db.tenancy import TenantScope
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
    return data
