from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import strawberry

from conduit import ids
from conduit.db import models
from conduit.schema.context import Info
from conduit.schema.errors import decoded_id
from conduit.schema.listing import tenant_page
from conduit.schema.pagination import Connection, SortKey
from conduit.schema.permissions import require
from conduit.schema.types.installation import INSTALLATION_SORT, Installation
from conduit.schema.types.member import Member
from conduit.schema.types.node import Node
from conduit.schema.types.project import Project
from conduit.schema.types.token import ApiToken

T = TypeVar("T")

PROJECT_SORT = SortKey(models.Project.id, models.Project.id, descending=False)
MEMBER_SORT = SortKey(models.Member.id, models.Member.id, descending=False)
TOKEN_SORT = SortKey(models.ApiToken.id, models.ApiToken.id, descending=True)


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
