"""Tickets in trackers and the links between them and issues, served from the sync cache."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from conduit import ids
from conduit.db import models
from conduit.db.models.integrations import TicketRequest as TicketRequestRow
from conduit.schema.context import Info
from conduit.schema.types.installation import Installation
from conduit.schema.types.node import Node


@strawberry.enum
class TicketStatusCategory(Enum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"


@strawberry.type(
    description="A ticket in a tracker, as last seen there (kept fresh by webhooks and revalidation)."
)
class ExternalIssue(Node):
    key: str
    url: str
    title: str
    status: str = strawberry.field(description="The tracker's own name for the status.")
    status_category: TicketStatusCategory
    assignee: str | None
    updated_at: datetime | None = strawberry.field(description="When the ticket last changed in the tracker.")
    last_synced_at: datetime | None = strawberry.field(
        description="When Conduit last confirmed these fields."
    )
    deleted: bool
    sync_error: str | None = strawberry.field(
        description="Why the last change Conduit tried to make to the ticket did not happen."
    )
    installation_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, e: models.ExternalIssue) -> ExternalIssue:
        return cls(
            id=strawberry.ID(ids.encode("ExternalIssue", e.id)),
            key=e.key,
            url=e.url,
            title=e.title,
            status=e.status,
            status_category=TicketStatusCategory(e.status_category),
            assignee=e.assignee,
            updated_at=e.updated_at,
            last_synced_at=e.last_synced_at,
            deleted=e.deleted,
            sync_error=e.sync_error,
            installation_pk=e.installation_id,
        )

    @strawberry.field
    async def installation(self, info: Info) -> Installation | None:
        row = await info.context.loaders.installation.load(self.installation_pk)
        return Installation.from_model(row) if row else None


@strawberry.type(description="An issue linked to a ticket.")
class IssueLink(Node):
    external_issue: ExternalIssue
    broken: bool = strawberry.field(description="The ticket was deleted in the tracker.")
    created_at: datetime
    issue_pk: strawberry.Private[int]

    @classmethod
    def from_models(cls, link: models.IssueLink, external: models.ExternalIssue) -> IssueLink:
        return cls(
            id=strawberry.ID(ids.encode("IssueLink", link.id)),
            external_issue=ExternalIssue.from_model(external),
            broken=link.broken,
            created_at=link.created_at,
            issue_pk=link.issue_id,
        )


@strawberry.enum
class TicketRequestState(Enum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@strawberry.type(
    description="A ticket being created from an issue; submitting the same one twice returns this."
)
class TicketRequest(Node):
    state: TicketRequestState
    target: str
    error: str | None
    created_at: datetime
    external_issue_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, r: TicketRequestRow) -> TicketRequest:
        return cls(
            id=strawberry.ID(ids.encode("TicketRequest", r.id)),
            state=TicketRequestState(r.state.value),
            target=r.target,
            error=r.error,
            created_at=r.created_at,
            external_issue_pk=r.external_issue_id,
        )

    @strawberry.field
    async def external_issue(self, info: Info) -> ExternalIssue | None:
        if self.external_issue_pk is None:
            return None
        row = await info.context.loaders.external_issue.load(self.external_issue_pk)
        return ExternalIssue.from_model(row) if row else None
