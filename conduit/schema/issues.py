"""Issues and what hangs off them: the events grouped into one, and its comments.

Types are thin: fields, `from_model`, and fields that read through the request's loaders (one query per
batch, tenant-scoped) after checking the scope of what they return.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row, select

from conduit import ids
from conduit.db import models
from conduit.db.models.comments import Comment as CommentRow
from conduit.schema.context import Info
from conduit.schema.errors import decoded_id
from conduit.schema.loaders import EVENT_SORT
from conduit.schema.lookahead import asks_for_in_page, now_or_later
from conduit.schema.node import Node
from conduit.schema.pagination import Connection, Page, SortKey, connection, page_size, position
from conduit.schema.permissions import can, require

if TYPE_CHECKING:
    from conduit.schema.organization import Member, Project
    from conduit.schema.trackers import IssueLink

# Oldest first: a conversation reads top to bottom.
COMMENT_SORT = SortKey(CommentRow.created_at, CommentRow.id, descending=False, is_datetime=True)


@strawberry.enum
class IssueStatus(Enum):
    UNRESOLVED = "unresolved"
    RESOLVED = "resolved"
    IGNORED = "ignored"


@strawberry.type
class Tag:
    key: str
    value: str


@strawberry.type
class Frame:
    filename: str | None
    function: str | None
    module: str | None
    lineno: int | None
    in_app: bool


@strawberry.type(description="One exception of a chain; the last one is the one that was raised.")
class ExceptionValue:
    type: str | None
    value: str | None
    module: str | None
    stacktrace: list[Frame]


def _frames(raw: Any) -> list[Frame]:
    out = []
    frames = raw.get("frames") if isinstance(raw, dict) else None
    for f in frames if isinstance(frames, list) else []:
        if isinstance(f, dict):
            lineno = f.get("lineno")
            out.append(
                Frame(
                    filename=f.get("filename") or f.get("abs_path"),
                    function=f.get("function"),
                    module=f.get("module"),
                    lineno=lineno if isinstance(lineno, int) else None,
                    in_app=bool(f.get("in_app")),
                )
            )
    return out


def _exceptions(data: dict[str, Any]) -> list[ExceptionValue]:
    section = data.get("exception")
    values = section.get("values") if isinstance(section, dict) else None
    return [
        ExceptionValue(
            type=v.get("type"),
            value=v.get("value"),
            module=v.get("module"),
            stacktrace=_frames(v.get("stacktrace")),
        )
        for v in (values if isinstance(values, list) else [])
        if isinstance(v, dict)
    ]


@strawberry.type(description="One occurrence of an error.")
class Event(Node):
    event_id: str = strawberry.field(description="The id the SDK gave the event (32 hex characters).")
    timestamp: datetime
    received_at: datetime
    platform: str
    level: str
    message: str
    exception_type: str | None
    exception_value: str | None
    release: str | None
    environment: str | None
    issue_pk: strawberry.Private[int]
    # The stored JSON, turned into `tags` and `exceptions` only when a client asks for them: most pages
    # of events never do, and building them is most of the cost of an event.
    raw_tags: strawberry.Private[dict[str, Any] | None]
    raw_data: strawberry.Private[dict[str, Any] | None]

    @strawberry.field
    def tags(self) -> list[Tag]:
        return [Tag(key=str(k), value=str(v)) for k, v in (self.raw_tags or {}).items()]

    @strawberry.field(description="The exception chain, raised one last.")
    def exceptions(self) -> list[ExceptionValue]:
        return _exceptions(self.raw_data or {})

    @strawberry.field
    async def issue(self, info: Info) -> Issue | None:
        row = await info.context.loaders.issue.load(self.issue_pk)
        return Issue.from_model(row) if row else None

    @strawberry.field(description="Frames of the raised exception, innermost last.")
    def stacktrace(self) -> list[Frame]:
        exceptions = _exceptions(self.raw_data or {})
        return exceptions[-1].stacktrace if exceptions else []

    @classmethod
    def from_model(cls, e: models.Event | Row[Any]) -> Event:
        """From the model, or from a row of the event table's columns (conduit.schema.loaders)."""
        return cls(
            id=strawberry.ID(ids.encode("Event", e.id)),
            event_id=e.event_id,
            timestamp=e.timestamp,
            received_at=e.received_at,
            platform=e.platform,
            level=e.level,
            message=e.message,
            exception_type=e.exception_type,
            exception_value=e.exception_value,
            release=e.release,
            environment=e.environment,
            issue_pk=e.issue_id,
            raw_tags=e.tags,
            raw_data=e.data,
        )


def _event_or_none(row: models.Event | Row[Any] | None) -> Event | None:
    return Event.from_model(row) if row else None


async def prefetch_latest_events(info: Info, issue_pks: list[int]) -> None:
    """Load the latest events of a page's issues now, when the selection asks for them and the viewer
    may see them, so that each `latestEvent` finds its answer ready. A failed load is not raised here:
    each `latestEvent` reports it, as it would have without this."""
    if issue_pks and can(info, "event:read") and asks_for_in_page(info, "latestEvent"):
        loader = info.context.loaders.latest_event
        await asyncio.gather(*(loader.load(pk) for pk in issue_pks), return_exceptions=True)


@strawberry.type(description="A comment on an issue; sent to linked tickets when the installation says so.")
class Comment(Node):
    body: str
    created_at: datetime
    author_id: strawberry.ID | None = strawberry.field(
        description="The member who wrote it; null when an API token, an app, or a tracker user who "
        "matches no member did."
    )
    source: CommentSource | None = strawberry.field(
        description="Where a comment written in a tracker came from; null for one written in Conduit."
    )

    @classmethod
    def from_model(cls, c: CommentRow) -> Comment:
        source = None
        if c.source_installation_id is not None:
            source = CommentSource(
                installation_id=strawberry.ID(ids.encode("Installation", c.source_installation_id)),
                provider=c.source_provider or "",
                author_name=c.author_name,
            )
        return cls(
            id=strawberry.ID(ids.encode("Comment", c.id)),
            body=c.body,
            created_at=c.created_at,
            author_id=strawberry.ID(ids.encode("Member", c.author_id)) if c.author_id else None,
            source=source,
        )


@strawberry.type(description="The tracker a comment was written in.")
class CommentSource:
    installation_id: strawberry.ID
    provider: str
    author_name: str | None = strawberry.field(
        description="The tracker user's name, when they match no member (else see `authorId`)."
    )


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
    def from_model(cls, i: models.Issue | Row[Any]) -> Issue:
        """From the model, or from a row of the issue table's columns (conduit.schema.loaders)."""
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
    ) -> Annotated[Project, strawberry.lazy("conduit.schema.organization")] | None:
        from conduit.schema.organization import Project

        row = await info.context.loaders.project.load(self.project_pk)
        return Project.from_model(row) if row else None

    @strawberry.field
    async def assignee(
        self, info: Info
    ) -> Annotated[Member, strawberry.lazy("conduit.schema.organization")] | None:
        from conduit.schema.organization import Member

        if self.assignee_pk is None:
            return None
        row = await info.context.loaders.member.load(self.assignee_pk)
        return Member.from_model(row) if row else None

    # A plain function, not a coroutine: when the page that holds this issue loaded the latest events
    # already (`prefetch_latest_events`), the answer is ready and the issue completes without a task.
    @strawberry.field(description="The newest event of this issue.", graphql_type=Event | None)
    def latest_event(self, info: Info) -> Event | Awaitable[Event | None] | None:
        require(info, "event:read")
        return now_or_later(info.context.loaders.latest_event.load(self.pk), _event_or_none)

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
    ) -> Connection[Comment]:
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
        async with info.context.reads.session() as session:
            rows = list((await session.execute(stmt)).scalars())
        page = Page(rows=rows[:limit], has_next=len(rows) > limit)
        return connection(page, COMMENT_SORT, Comment.from_model)

    @strawberry.field(
        description="Tickets linked to this issue, from the sync cache (one query for a whole page; "
        "stale entries are refreshed in the background, batched per installation)."
    )
    async def links(
        self, info: Info
    ) -> list[Annotated[IssueLink, strawberry.lazy("conduit.schema.trackers")]]:
        from conduit.schema.trackers import IssueLink

        require(info, "issue:read")
        rows = await info.context.loaders.issue_links.load(self.pk)
        return [IssueLink.from_models(link, external) for link, external in rows]
