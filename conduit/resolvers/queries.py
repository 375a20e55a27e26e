"""Root queries: the viewer, its organization, and direct lookups by global id."""

from __future__ import annotations

from typing import Any

import strawberry

from conduit.schema.context import Info
from conduit.schema.errors import decoded_id, decoded_pk
from conduit.schema.issues import Event, Issue
from conduit.schema.node import Node
from conduit.schema.organization import Member, Organization, Project, Viewer
from conduit.schema.permissions import require
from conduit.schema.trackers import Installation

# Global id type → (scope needed, loader attribute, GraphQL type).
NODE_TYPES: dict[str, tuple[str, str, Any]] = {
    "Organization": ("org:read", "organization", Organization),
    "Project": ("project:read", "project", Project),
    "Issue": ("issue:read", "issue", Issue),
    "Event": ("event:read", "event", Event),
    "Member": ("member:read", "member", Member),
    "Installation": ("installation:read", "installation", Installation),
}


async def load_node(info: Info, global_id: str) -> Node | None:
    kind, pk = decoded_id(global_id, "id")
    if kind not in NODE_TYPES:
        return None
    scope, loader, type_ = NODE_TYPES[kind]
    require(info, scope)
    row = await getattr(info.context.loaders, loader).load(pk)
    return type_.from_model(row) if row else None


@strawberry.type
class RootQuery:
    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        v = info.context.viewer
        return Viewer(scopes=list(v.scopes), organization_pk=v.organization_id)

    @strawberry.field(description="The organization the token belongs to.")
    async def organization(self, info: Info) -> Organization:
        require(info, "org:read")
        row = await info.context.loaders.organization.load(info.context.viewer.organization_id)
        assert row is not None
        return Organization.from_model(row)

    @strawberry.field
    async def project(self, info: Info, id: strawberry.ID) -> Project | None:
        require(info, "project:read")
        row = await info.context.loaders.project.load(decoded_pk(id, "Project", "id"))
        return Project.from_model(row) if row else None

    @strawberry.field
    async def issue(self, info: Info, id: strawberry.ID) -> Issue | None:
        require(info, "issue:read")
        row = await info.context.loaders.issue.load(decoded_pk(id, "Issue", "id"))
        return Issue.from_model(row) if row else None

    @strawberry.field(description="Any object by its global id; null when it does not exist or is not yours.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, id)
