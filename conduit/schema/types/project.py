from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from conduit import ids
from conduit.bootstrap import dsn_for
from conduit.db import models
from conduit.db.tenancy import TenantScope
from conduit.schema.context import Info
from conduit.schema.errors import decoded_id
from conduit.schema.loaders import ISSUE_SORTS, IssueFilter
from conduit.schema.pagination import Connection, connection, page_size, position
from conduit.schema.permissions import require
from conduit.schema.types.issue import Issue, IssueStatus
from conduit.schema.types.node import Node

if TYPE_CHECKING:
    from conduit.schema.types.organization import Organization


@strawberry.enum
class IssueSort(Enum):
    LAST_SEEN = "last_seen"
    FIRST_SEEN = "first_seen"
    COUNT = "count"


@strawberry.type(description="A DSN key: what an SDK needs to send events to this project.")
class ProjectKey:
    public_key: str
    label: str
    is_active: bool
    dsn: str


@strawberry.federation.type(keys=["id"], description="A source of errors.")
class Project(Node):
    name: str
    slug: str
    platform: str | None
    created_at: datetime
    pk: strawberry.Private[int]
    organization_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, p: models.Project) -> Project:
        return cls(
            id=strawberry.ID(ids.encode("Project", p.id)),
            name=p.name,
            slug=p.slug,
            platform=p.platform,
            created_at=p.created_at,
            pk=p.id,
            organization_pk=p.organization_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Project | None:
        require(info, "project:read")
        kind, pk = decoded_id(id, "representations")
        row = await info.context.loaders.project.load(pk) if kind == "Project" else None
        return cls.from_model(row) if row else None

    @strawberry.field(description="Null, with a FORBIDDEN error, for a token without `org:read`.")
    async def organization(
        self, info: Info
    ) -> Annotated[Organization, strawberry.lazy("conduit.schema.types.organization")] | None:
        from conduit.schema.types.organization import Organization

        row = await info.context.loaders.organization.load(self.organization_pk)
        return Organization.from_model(row) if row else None

    @strawberry.field(description="Issues of this project. `query` matches the title, case-insensitively.")
    async def issues(
        self,
        info: Info,
        status: IssueStatus | None = None,
        query: str | None = None,
        sort: IssueSort = IssueSort.LAST_SEEN,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Issue]:
        require(info, "issue:read")
        flt = IssueFilter(
            status=models.IssueStatus(status.value) if status else None,
            query=(query or "").strip()[:200] or None,
            sort=sort.value,
            first=page_size(first),
            after=position(ISSUE_SORTS[sort.value], after),
        )
        page = await info.context.loaders.issue_page.load((self.pk, flt))
        return connection(page, ISSUE_SORTS[sort.value], Issue.from_model)

    @strawberry.field(description="DSN keys, for configuring an SDK.")
    async def keys(self, info: Info) -> list[ProjectKey]:
        require(info, "project:read")
        ctx = info.context
        async with ctx.runtime.sessions() as session:
            scope = TenantScope(session, ctx.viewer.organization_id)
            stmt = scope.select(models.ProjectKey).where(models.ProjectKey.project_id == self.pk)
            rows = await scope.scalars(stmt.order_by(models.ProjectKey.id))
        public_url = ctx.runtime.settings.public_url
        return [
            ProjectKey(
                public_key=k.public_key,
                label=k.label,
                is_active=k.is_active,
                dsn=dsn_for(public_url, k.public_key, self.pk),
            )
            for k in rows
        ]
