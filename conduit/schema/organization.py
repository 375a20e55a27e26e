"""The tenant and what belongs to it directly: its projects, members and API tokens; and the viewer.

Every list here is one tenant-scoped page (`conduit.schema.listing`); a token's value never appears,
only its prefix.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from conduit import ids
from conduit.bootstrap import dsn_for
from conduit.db import models
from conduit.db.tenancy import TenantScope
from conduit.schema.context import Info
from conduit.schema.errors import decoded_id
from conduit.schema.issues import Issue, IssueStatus, prefetch_latest_events
from conduit.schema.listing import tenant_page
from conduit.schema.loaders import ISSUE_SORTS, IssueFilter
from conduit.schema.node import Node
from conduit.schema.pagination import Connection, SortKey, connection, page_size, position
from conduit.schema.permissions import require
from conduit.schema.trackers import INSTALLATION_SORT, Installation

PROJECT_SORT = SortKey(models.Project.id, models.Project.id, descending=False)
MEMBER_SORT = SortKey(models.Member.id, models.Member.id, descending=False)
TOKEN_SORT = SortKey(models.ApiToken.id, models.ApiToken.id, descending=True)


@strawberry.enum
class MemberRole(Enum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


@strawberry.type
class Member(Node):
    email: str
    name: str
    role: MemberRole

    @classmethod
    def from_model(cls, m: models.Member) -> Member:
        return cls(
            id=strawberry.ID(ids.encode("Member", m.id)), email=m.email, name=m.name, role=MemberRole(m.role)
        )


@strawberry.type(description="An API token. Its value is shown once, when it is created, and never again.")
class ApiToken(Node):
    name: str
    prefix: str = strawberry.field(description="The first characters of the value, to tell tokens apart.")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, t: models.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(ids.encode("ApiToken", t.id)),
            name=t.name,
            prefix=t.prefix,
            scopes=list(t.scopes),
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )


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
    ingest_rate_limit: int | None = strawberry.field(
        description="Events per minute each of this project's DSN keys may send; over it, SDKs get 429 and "
        "back off. Null: the server's default (CONDUIT_INGEST_RATE_LIMIT). Set by `setProjectRateLimit`."
    )
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
            ingest_rate_limit=p.ingest_rate_limit,
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
    async def organization(self, info: Info) -> Organization | None:
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
        await prefetch_latest_events(info, [row.id for row in page.rows])
        return connection(page, ISSUE_SORTS[sort.value], Issue.from_model)

    @strawberry.field(description="DSN keys, for configuring an SDK.")
    async def keys(self, info: Info) -> list[ProjectKey]:
        require(info, "project:read")
        ctx = info.context
        async with ctx.reads.session() as session:
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


@strawberry.federation.type(keys=["id"], description="A tenant: everything else belongs to one.")
class Organization(Node):
    name: str
    slug: str
    created_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, o: models.Organization) -> Organization:
        return cls(
            id=strawberry.ID(ids.encode("Organization", o.id)),
            name=o.name,
            slug=o.slug,
            created_at=o.created_at,
            pk=o.id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Organization | None:
        require(info, "org:read")
        kind, pk = decoded_id(id, "representations")
        row = await info.context.loaders.organization.load(pk) if kind == "Organization" else None
        return cls.from_model(row) if row else None

    @strawberry.field
    async def projects(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Project]:
        require(info, "project:read")
        return await tenant_page(info, models.Project, PROJECT_SORT, Project.from_model, first, after)

    @strawberry.field
    async def members(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Member]:
        require(info, "member:read")
        return await tenant_page(info, models.Member, MEMBER_SORT, Member.from_model, first, after)

    @strawberry.field(description="Connections to trackers.")
    async def installations(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Installation]:
        require(info, "installation:read")
        return await tenant_page(
            info, models.Installation, INSTALLATION_SORT, Installation.from_model, first, after
        )

    @strawberry.field(description="API tokens, newest first. Values are never shown again.")
    async def api_tokens(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ApiToken]:
        require(info, "token:read")
        return await tenant_page(info, models.ApiToken, TOKEN_SORT, ApiToken.from_model, first, after)


@strawberry.type(description="Who is asking: the token's organization and scopes.")
class Viewer:
    scopes: list[str]
    organization_pk: strawberry.Private[int]

    @strawberry.field(description="The id of the token's organization, which any token may know.")
    def organization_id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode("Organization", self.organization_pk))

    @strawberry.field(description="Null, with a FORBIDDEN error, for a token without `org:read`.")
    async def organization(self, info: Info) -> Organization | None:
        row = await info.context.loaders.organization.load(self.organization_pk)
        return Organization.from_model(row) if row else None
