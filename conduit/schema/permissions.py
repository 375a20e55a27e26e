"""Scopes: which token may see which object, at every depth.

Invariant: a field whose value is an object of a scoped type resolves only for a token holding that
type's scope, wherever the field sits — at the root, nested (`issue.assignee`, `event.issue`), in a
mutation payload or behind `node`/`_entities`. A missing scope answers FORBIDDEN naming it
(`extensions.requiredScope`); on a nullable field the rest of the response survives.

Every object type is classified in `TYPE_SCOPES`: the scope it needs, or None for types that carry no
data of their own (roots, payloads, errors, page info, catalogs). Connections and edges take the scope of
their node type. `enforce_scopes` applies the table once, when the schema is built, by wrapping the
resolver of every field that returns a scoped type (for an interface or union, each resolved value is
checked against its concrete type). This is the mechanism with the least room for forgetting: a new
field is covered by the type it returns, with nothing to add to it, and a new type that is not in the
table is refused to every token (`admin` is required) until it is classified — and the schema test,
which lists unclassified types, fails until then. A per-field permission class or a check in each
resolver would have to be remembered on every field; a check in `from_model` has no `info` to read.

Queries raise `MissingScope`; mutations return a `ForbiddenError` for their own scope (see `forbidden`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import strawberry
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLUnionType,
    default_field_resolver,
    get_named_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import get_object_definition

from conduit.auth import tokens
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, MissingScope
from conduit.schema.pagination import Connection, Edge

# Scope families follow conduit.auth.tokens: `write` implies `read`, `admin` implies everything.
TYPE_SCOPES: Mapping[str, str | None] = {
    # Resources, and the values that only exist as part of one.
    "Organization": "org:read",
    "Member": "member:read",
    "Project": "project:read",
    "ProjectKey": "project:read",
    "Issue": "issue:read",
    "Comment": "issue:read",
    "CommentSource": "issue:read",
    # A link and the ticket's cached fields are part of the page; the installation behind them
    # (its URLs and config) is not.
    "IssueLink": "issue:read",
    "ExternalIssue": "issue:read",
    "TicketRequest": "issue:read",
    "Event": "event:read",
    "Tag": "event:read",
    "Frame": "event:read",
    "ExceptionValue": "event:read",
    "ApiToken": "token:read",
    "Job": "job:read",
    "JobQueueStats": "job:read",
    "JobKindStats": "job:read",
    "JobStateCount": "job:read",
    "Installation": "installation:read",
    "InstallationAccount": "installation:read",
    "InstallationConfig": "installation:read",
    "InstallationHealth": "installation:read",
    "InstallationHealthSeries": "installation:read",
    "InstallationHealthBucket": "installation:read",
    "InstallationWebhook": "installation:read",
    "Interaction": "installation:read",
    "App": "app:read",
    "AppInstallation": "app:read",
    "AppHealth": "webhook:read",
    "AppHealthSeries": "webhook:read",
    "AppHealthBucket": "webhook:read",
    # Partner analytics: the owner's figures across every installing organization (never theirs to see).
    "AppAnalytics": "app:read",
    "AppAnalyticsBucket": "app:read",
    "Delivery": "webhook:read",
    "DeliveryAttempt": "webhook:read",
    # Rules are project configuration; the issues and tickets they name are checked by their own types.
    "Rule": "project:read",
    "RuleFilters": "project:read",
    "RuleTag": "project:read",
    "RuleFiring": "project:read",
    # No data of their own: what they hold is checked by its own type.
    "Viewer": None,  # the token's own scopes
    # The signed-in member's own sessions, or with `admin` any member's: no scope says "one's own", so
    # `sessions` and `revokeSession` check it, and nothing else returns this type.
    "MemberSession": None,
    "PageInfo": None,
    "Provider": None,  # the static catalog of trackers
    "EventType": None,  # the static event catalog
    "EventMessage": None,  # subscriptions filter each event by the scope its type needs
    "_Service": None,  # the federation SDL
    "ForbiddenError": None,
    "NotFoundError": None,
    "ValidationError": None,
    "TrackerError": None,
    "UnknownStatusError": None,
    "AddCommentPayload": None,
    "AddMemberPayload": None,
    "ConnectTrackerPayload": None,
    "SetTrackerAccountPayload": None,
    "CreateApiTokenPayload": None,
    "CreateAppPayload": None,
    "CreateExternalIssuePayload": None,
    "CreateProjectPayload": None,
    "InstallAppPayload": None,
    "LinkExternalIssuePayload": None,
    "RecoverEndpointPayload": None,
    "RedeliverPayload": None,
    "RetryJobPayload": None,
    "RevokeApiTokenPayload": None,
    "RotateAppSecretPayload": None,
    "RotateWebhookSecretPayload": None,
    "UpdateAppDeliveryPayload": None,
    "SendTestEventPayload": None,
    "SetProjectRateLimitPayload": None,
    "StartInstallationPayload": None,
    "UninstallAppPayload": None,
    "UninstallPayload": None,
    "UnlinkExternalIssuePayload": None,
    "UpdateInstallationConfigPayload": None,
    "UpdateIssuePayload": None,
    "RulePayload": None,
    "DeleteRulePayload": None,
    "CreateSignInLinkPayload": None,
    "SetPasswordPayload": None,
    "RevokeSessionPayload": None,
    "SetMemberRolePayload": None,
    "RemoveMemberPayload": None,
    # A preview's matches show issues (checked as `Issue`) and the tickets they would make, which quote
    # issue titles: `previewRule` itself asks for `issue:read` beside `project:read`.
    "RulePreview": None,
    "RulePreviewMatch": None,
}
# What an unclassified type needs: nothing short of admin sees it until someone decides.
UNCLASSIFIED = tokens.ADMIN

Resolver = Callable[..., Any]


def can(info: Info | GraphQLResolveInfo, scope: str) -> bool:
    # The viewer works out what its scopes grant once; this runs for every guarded field of an answer.
    return bool(info.context.viewer.can(scope))


def require(info: Info, scope: str) -> None:
    if not can(info, scope):
        raise MissingScope(scope)


def forbidden(info: Info, scope: str) -> ForbiddenError | None:
    """A ForbiddenError to return from a mutation when the scope is missing, else None."""
    if can(info, scope):
        return None
    return ForbiddenError(message=f"this token lacks the `{scope}` scope", required_scope=scope)


def _root_types(schema: GraphQLSchema) -> set[str]:
    return {t.name for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t}


def _node_type_of(type_: GraphQLObjectType) -> GraphQLObjectType | None:
    """For a Connection[T] or Edge[T], the object type T."""
    definition = type_.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    generic = getattr(definition, "concrete_of", None)
    origin = getattr(generic, "origin", None)
    if origin is Connection:
        field = "nodes"
    elif origin is Edge:
        field = "node"
    else:
        return None
    node = get_named_type(type_.fields[field].type)
    return node if isinstance(node, GraphQLObjectType) else None


def classify(schema: GraphQLSchema) -> tuple[dict[str, str | None], list[str]]:
    """Each object type's scope (None: open), and the names of the types `TYPE_SCOPES` does not list."""
    roots = _root_types(schema)
    scopes: dict[str, str | None] = {}
    unclassified: list[str] = []
    for name, type_ in schema.type_map.items():
        if not isinstance(type_, GraphQLObjectType) or name.startswith("__"):
            continue
        node = _node_type_of(type_)
        key = node.name if node is not None else name
        if name in roots:
            scopes[name] = None
        elif key in TYPE_SCOPES:
            scopes[name] = TYPE_SCOPES[key]
        else:
            unclassified.append(name)
            scopes[name] = UNCLASSIFIED
    return scopes, sorted(unclassified)


def enforce_scopes(schema: strawberry.Schema) -> None:
    """Guard every field of `schema` that returns a scoped type; see the module docstring."""
    graphql_schema = schema._schema
    scopes, _ = classify(graphql_schema)
    for type_ in graphql_schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for field in type_.fields.values():
            _guard_field(field, scopes)


def _guard_field(field: GraphQLField, scopes: Mapping[str, str | None]) -> None:
    target = get_named_type(field.type)
    if isinstance(target, GraphQLObjectType):
        scope = scopes.get(target.name)
        if scope is not None:
            field.resolve = _checked_before(field.resolve or default_field_resolver, scope)
            if field.subscribe is not None:
                field.subscribe = _checked_before(field.subscribe, scope)
    elif isinstance(target, GraphQLInterfaceType | GraphQLUnionType):
        field.resolve = _checked_after(field.resolve or default_field_resolver, scopes)


def _checked_before(resolve: Resolver, scope: str) -> Resolver:
    def guarded(root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        if not info.context.viewer.can(scope):
            raise MissingScope(scope)
        return resolve(root, info, **args)

    guarded.required_scope = scope  # type: ignore[attr-defined]  # read by the schema tests
    return guarded


def _checked_after(resolve: Resolver, scopes: Mapping[str, str | None]) -> Resolver:
    """For an abstract type the scope depends on what came back: check each value's concrete type."""

    def refusal(info: GraphQLResolveInfo, value: Any) -> MissingScope | None:
        definition = get_object_definition(value)
        if definition is None:  # None, or an error already in the list
            return None
        scope = scopes.get(definition.name, UNCLASSIFIED)
        return None if scope is None or can(info, scope) else MissingScope(scope)

    async def entry_later(info: GraphQLResolveInfo, pending: Awaitable[Any]) -> Any:
        value = await pending
        return refusal(info, value) or value

    def entry(info: GraphQLResolveInfo, value: Any) -> Any:
        # One refused entry is an error at its index (graphql-core reports a returned exception
        # there), not the loss of the whole list. Entries may still be pending (`_entities`).
        if inspect.isawaitable(value):
            return entry_later(info, value)
        return refusal(info, value) or value

    def check(info: GraphQLResolveInfo, result: Any) -> Any:
        if isinstance(result, Iterable) and not isinstance(result, str | bytes | Mapping):
            return [entry(info, value) for value in result]
        error = refusal(info, result)
        if error is not None:
            raise error
        return result

    async def check_later(info: GraphQLResolveInfo, pending: Awaitable[Any]) -> Any:
        return check(info, await pending)

    def guarded(root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        result = resolve(root, info, **args)
        if inspect.isawaitable(result):
            return check_later(info, result)
        return check(info, result)

    guarded.checks_resolved_types = True  # type: ignore[attr-defined]  # read by the schema tests
    return guarded
