from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import select

from conduit import ids
from conduit.db import models
from conduit.schema.context import Info
from conduit.schema.errors import decoded_id
from conduit.schema.loaders import EVENT_SORT
from conduit.schema.pagination import Connection, connection, page_size, position
from conduit.schema.permissions import require
from conduit.schema.types.event import Event
from conduit.schema.types.member import Member
from conduit.schema.types.node import Node

if TYPE_CHECKING:
    from conduit.schema.types.comment import Comment
    from conduit.schema.types.external_issue import IssueLink
    from conduit.schema.types.project import Project


@strawberry.enum
class IssueStatus(Enum):
    UNRESOLVED = "unresolved"
    RESOLVED = "resolved"
    IGNORED = "ignored"


@strawberry.federation.type(keys=["id"], description="A group of events that share one fingerprint.")
class Issue(Node):
    title: str
    culprit: str
    level: str
    status: IssueStatus
    count: int = strawberry.field(description="How many events were grouped into this issue.")
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    pk: strawberry.Private[int]
    project_pk: strawberry.Private[int]
    assignee_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, i: models.Issue) -> Issue:
        return cls(
            id=strawberry.ID(ids.encode("Issue", i.id)),
            title=i.title,
            culprit=i.culprit,
            level=i.level,
            status=IssueStatus(i.status),
            count=i.times_seen,
            first_seen=i.first_seen,
            last_seen=i.last_seen,
            resolved_at=i.resolved_at,
            pk=i.id,
            project_pk=i.project_id,
            assignee_pk=i.assignee_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Issue | None:
        require(info, "issue:read")
        kind, pk = decoded_id(id, "representations")
        row = await info.context.loaders.issue.load(pk) if kind == "Issue" else None
        return cls.from_model(row) if row else None

    @strawberry.field(description="Null, with a FORBIDDEN error, for a token without `project:read`.")
    async def project(
        self, info: Info
    ) -> Annotated[Project, strawberry.lazy("conduit.schema.types.project")] | None:
        from conduit.schema.types.project import Project

        row = await info.context.loaders.project.load(self.project_pk)
        return Project.from_model(row) if row else None

    @strawberry.field
    async def assignee(self, info: Info) -> Member | None:
        if self.assignee_pk is None:
            return None
        row = await info.context.loaders.member.load(self.assignee_pk)
        return Member.from_model(row) if row else None

    @strawberry.field(description="The newest event of this issue.")
    async def latest_event(self, info: Info) -> Event | None:
        require(info, "event:read")
        row = await info.context.loaders.latest_event.load(self.pk)
        return Event.from_model(row) if row else None

    @strawberry.field(description="Events, newest first.")
    async def events(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Event]:
        require(info, "event:read")
        key = (self.pk, page_size(first), position(EVENT_SORT, after))
        page = await info.context.loaders.event_page.load(key)
        return connection(page, EVENT_SORT, Event.from_model)

    @strawberry.field(description="Comments, oldest first.")
    async def comments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Comment, strawberry.lazy("conduit.schema.types.comment")]]:
        from conduit.db.models.comments import Comment as CommentRow
        from conduit.schema.pagination import Page
        from conduit.schema.types.comment import COMMENT_SORT, Comment

        require(info, "issue:read")
        limit, start = page_size(first), position(COMMENT_SORT, after)
        stmt = (
            select(CommentRow)
            .where(CommentRow.issue_id == self.pk)
            .order_by(*COMMENT_SORT.order_by())
            .limit(limit + 1)
        )
        if start is not None:
            stmt = stmt.where(COMMENT_SORT.where_after(start))
        async with info.context.runtime.sessions() as session:
            rows = list((await session.execute(stmt)).scalars())
        page = Page(rows=rows[:limit], has_next=len(rows) > limit)
        return connection(page, COMMENT_SORT, Comment.from_model)

    @strawberry.field(
        description="Tickets linked to this issue, from the sync cache (one query for a whole page; "
        "stale entries are refreshed in the background, batched per installation)."
    )
    async def links(
        self, info: Info
    ) -> list[Annotated[IssueLink, strawberry.lazy("conduit.schema.types.external_issue")]]:
        from conduit.schema.types.external_issue import IssueLink

        require(info, "issue:read")
        rows = await info.context.loaders.issue_links.load(self.pk)
        return [IssueLink.from_models(link, external) for link, external in rows]
