"""The GraphQL schema, assembled from one piece per domain; also an Apollo Federation v2 subgraph."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

# Both Apollo's and The Guild's composition accept @link up to v2.9.
FEDERATION_VERSION = "2.9"


class ConduitSchema(strawberry.federation.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors are the client's business; unexpected ones are logged once, with the id the client
        # sees, by the masking extension in conduit.schema.guards.
        return None


def build_schema(extensions: Sequence[Any] = ()) -> ConduitSchema:
    from conduit.resolvers.apps import AppMutation, AppQuery
    from conduit.resolvers.comments import CommentMutation
    from conduit.resolvers.deliveries import DeliveryMutation
    from conduit.resolvers.installations import InstallationMutation, InstallationQuery
    from conduit.resolvers.issues import IssueMutation
    from conduit.resolvers.jobs import JobMutation, JobQuery
    from conduit.resolvers.links import LinkMutation, LinkQuery
    from conduit.resolvers.members import MemberMutation
    from conduit.resolvers.projects import ProjectMutation
    from conduit.resolvers.queries import RootQuery
    from conduit.resolvers.subscriptions import EventSubscription
    from conduit.resolvers.tokens import TokenMutation
    from conduit.schema.types.event import Event
    from conduit.schema.types.member import Member
    from conduit.schema.types.token import ApiToken

    query = merge_types("Query", (RootQuery, JobQuery, InstallationQuery, LinkQuery, AppQuery))
    mutation = merge_types(
        "Mutation",
        (
            ProjectMutation,
            IssueMutation,
            TokenMutation,
            MemberMutation,
            JobMutation,
            InstallationMutation,
            LinkMutation,
            AppMutation,
            DeliveryMutation,
            CommentMutation,
        ),
    )
    return ConduitSchema(
        query=query,
        mutation=mutation,
        subscription=EventSubscription,
        types=[Event, Member, ApiToken],
        extensions=list(extensions),
        federation_version=FEDERATION_VERSION,  # type: ignore[arg-type]
    )
