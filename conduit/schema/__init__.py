"""The GraphQL schema, assembled from one piece per domain; also an Apollo Federation v2 subgraph."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from strawberry.tools import merge_types

# Both Apollo's and The Guild's composition accept @link up to v2.9.
FEDERATION_VERSION = "2.9"


def build_schema(extensions: Sequence[Any] = ()) -> strawberry.federation.Schema:
    from conduit.resolvers.issues import IssueMutation
    from conduit.resolvers.members import MemberMutation
    from conduit.resolvers.projects import ProjectMutation
    from conduit.resolvers.queries import Query
    from conduit.resolvers.tokens import TokenMutation
    from conduit.schema.types.event import Event
    from conduit.schema.types.member import Member
    from conduit.schema.types.token import ApiToken

    mutation = merge_types("Mutation", (ProjectMutation, IssueMutation, TokenMutation, MemberMutation))
    return strawberry.federation.Schema(
        query=Query,
        mutation=mutation,
        types=[Event, Member, ApiToken],
        extensions=list(extensions),
        federation_version=FEDERATION_VERSION,  # type: ignore[arg-type]
    )
