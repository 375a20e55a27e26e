"""The root of the GraphQL API: each domain's Query and Mutation pieces, merged into one schema.

A module here holds one domain's root fields (and the inputs and payloads of its mutations); the types
they return live in conduit.schema, which never imports this package. So this is the one place that
knows every root field: `build_schema` merges them, applies the scope table to every field
(conduit.schema.permissions) before anything can execute, and `graphql_routes` serves the result
through the view in conduit.schema.http.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute
from strawberry.tools import merge_types

from conduit.resolvers.apps import AppMutation, AppQuery
from conduit.resolvers.comments import CommentMutation
from conduit.resolvers.deliveries import DeliveryMutation, DeliveryQuery
from conduit.resolvers.installations import InstallationMutation, InstallationQuery
from conduit.resolvers.issues import IssueMutation
from conduit.resolvers.jobs import JobMutation, JobQuery
from conduit.resolvers.links import LinkMutation, LinkQuery
from conduit.resolvers.members import MemberMutation
from conduit.resolvers.projects import ProjectMutation
from conduit.resolvers.queries import RootQuery
from conduit.resolvers.rules import RuleMutation, RuleQuery
from conduit.resolvers.sessions import SessionMutation, SessionQuery
from conduit.resolvers.subscriptions import EventSubscription
from conduit.resolvers.tokens import TokenMutation
from conduit.runtime import Runtime
from conduit.schema import FEDERATION_VERSION, ConduitSchema, guards, http
from conduit.schema.issues import Event
from conduit.schema.organization import ApiToken, Member
from conduit.schema.permissions import enforce_scopes
from conduit.schema.reads import ShareReadsInQueries
from conduit.tracing import graphql_extensions as tracing_extensions

# The order of the pieces is the order of the root fields in the SDL (schema.graphql).
QUERIES = (
    RootQuery,
    JobQuery,
    InstallationQuery,
    LinkQuery,
    AppQuery,
    RuleQuery,
    SessionQuery,
    DeliveryQuery,
)
MUTATIONS = (
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
    RuleMutation,
    SessionMutation,
)


def build_schema(extensions: Sequence[Any] = ()) -> ConduitSchema:
    schema = ConduitSchema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=EventSubscription,
        # Reachable only through `node`, `_entities` or a payload: named so the SDL always has them.
        types=[Event, Member, ApiToken],
        extensions=list(extensions),
        execution_context_class=guards.PacedExecution,
        federation_version=FEDERATION_VERSION,  # type: ignore[arg-type]
    )
    enforce_scopes(schema)
    return schema


def graphql_routes(runtime: Runtime) -> list[BaseRoute]:
    """`/graphql` for HTTP and WebSocket, with the guards configured from the runtime's settings."""
    extensions = [*guards.extensions(runtime.settings), ShareReadsInQueries, *tracing_extensions()]
    return http.routes(runtime, build_schema(extensions=extensions))
