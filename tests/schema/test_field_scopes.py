"""Scopes hold at every depth, checked by tests generated from the schema itself.

Every object type must be classified (a scope, or open); every field returning a scoped type must carry
the guard for that scope; and every such field reachable from `Query` is queried for real, along a path
built by walking the schema, with a token lacking the scope (FORBIDDEN naming it, no value) and with one
holding it (the value, no error). A new type or field is covered without anyone adding it here.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import strawberry
from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
    Undefined,
    get_named_type,
)
from sqlalchemy import func, select

from conduit import ids
from conduit.auth import tokens
from conduit.auth.bearer import Viewer, authenticate
from conduit.bootstrap import bootstrap, mint_token
from conduit.db import models
from conduit.db.base import utcnow
from conduit.db.models.comments import Comment
from conduit.db.models.integrations import TicketRequest, TrackerWebhook
from conduit.events.emit import emit
from conduit.runtime import Runtime
from conduit.schema.context import context_for
from conduit.schema.permissions import classify, enforce_scopes
from tests.factories import make_issue, make_member
from tests.schema.conftest import _schema

SCHEMA = _schema._schema
SCOPES, UNCLASSIFIED = classify(SCHEMA)


# -- the walk -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One field on the way down: its name, the argument it needs (if any), the type it leads to."""

    field: str
    type_name: str
    on: str | None = None  # an inline fragment, when the field returns an interface or union
    needs: str | None = None  # "id" or "representations"


@dataclass(frozen=True)
class Edge:
    """A field returning a scoped type, and the paths from the root to its parent, best first."""

    parent: str
    step: Step
    paths: tuple[tuple[Step, ...], ...]

    @property
    def scope(self) -> str:
        scope = SCOPES[self.step.type_name]
        assert scope is not None
        return scope

    def __str__(self) -> str:
        on = f"<{self.step.on}>" if self.step.on else ""
        return f"{self.parent}.{self.step.field}{on}"


def scopes_of(path: tuple[Step, ...]) -> set[str]:
    return {s for s in (SCOPES[step.type_name] for step in path) if s is not None}


FILLABLE = ("id", "representations")


def _needs(field: GraphQLField, where: str) -> str | None:
    """The one required argument a field takes ("id" or "representations"), or None."""
    required = [
        n
        for n, a in field.args.items()
        if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
    ]
    if not required:
        return None
    if len(required) > 1 or required[0] not in FILLABLE:
        raise AssertionError(f"{where} takes arguments this walk cannot fill ({required}): teach it")
    return required[0]


def _steps(type_name: str) -> Iterator[tuple[Step, bool]]:
    """The steps out of a type, and whether each leads to an object type (to walk on from)."""
    type_ = SCHEMA.type_map[type_name]
    assert isinstance(type_, GraphQLObjectType)
    for name, f in type_.fields.items():
        target = get_named_type(f.type)
        needs = _needs(f, f"{type_name}.{name}")
        if isinstance(target, GraphQLObjectType):
            yield Step(name, target.name, None, needs), True
        elif isinstance(target, GraphQLInterfaceType | GraphQLUnionType):
            for possible in SCHEMA.get_possible_types(target):
                yield Step(name, possible.name, possible.name, needs), False


def _paths_from(start: str, prefix: tuple[Step, ...]) -> dict[str, tuple[Step, ...]]:
    """A shortest path to every type reachable from `start` through object-typed fields."""
    paths = {start: prefix}
    queue = deque([start])
    while queue:
        parent = queue.popleft()
        for step, walkable in _steps(parent):
            if walkable and step.type_name not in paths:
                paths[step.type_name] = (*paths[parent], step)
                queue.append(step.type_name)
    return paths


def walk(root: str) -> tuple[list[Edge], set[str]]:
    """Every edge to a scoped type under `root`, with paths to its parent from the root's fields and
    from each type `node`/`_entities` may answer with (a token can reach an Event through `node` without
    `issue:read`); for each edge, paths not needing the edge's own scope come first."""
    entries = [(root, ())] + [(step.type_name, (step,)) for step, walkable in _steps(root) if not walkable]
    found: dict[str, list[tuple[Step, ...]]] = {}
    for start, prefix in entries:
        for type_name, path in _paths_from(start, prefix).items():
            found.setdefault(type_name, []).append(path)
    edges = []
    for parent, paths in found.items():
        for step, _ in _steps(parent):
            scope = SCOPES.get(step.type_name)
            if scope is not None:
                ranked = sorted(set(paths), key=lambda p: (scope in scopes_of(p), len(p)))
                edges.append(Edge(parent, step, tuple(ranked)))
    return edges, set(found)


QUERY_EDGES, QUERY_TYPES = walk(SCHEMA.query_type.name)  # type: ignore[union-attr]


# -- the data the walk reads ------------------------------------------------------------------------------


@dataclass
class World:
    runtime: Runtime
    organization_id: int
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[frozenset[str], str] = field(default_factory=dict)

    async def token(self, scopes: set[str]) -> str:
        key = frozenset(scopes)
        if key not in self.tokens:
            async with self.runtime.sessions() as session:
                _, value = mint_token(session, self.organization_id, "scope test", sorted(key))
                await session.commit()
            self.tokens[key] = value
        return self.tokens[key]

    async def run(self, scopes: set[str], query: str, variables: dict[str, Any]) -> Any:
        async with self.runtime.sessions() as session:
            viewer = await authenticate(session, await self.token(scopes))
        assert viewer is not None
        return await _schema.execute(
            query, variable_values=variables, context_value=context_for(self.runtime, viewer)
        )


@pytest.fixture(scope="module")
async def world(runtime: Runtime) -> AsyncIterator[World]:
    """One organization holding at least one of everything the schema can show."""
    async with runtime.sessions() as session:
        boot = await bootstrap(
            session, f"scopes {secrets.token_hex(4)}", "backend", runtime.settings.public_url
        )
    org = boot.organization_id
    w = World(runtime, org)
    now = utcnow()
    async with runtime.sessions() as session:
        member = await make_member(session, org)
        issue = await make_issue(session, org, boot.project_id, events=2)
        issue.assignee_id = member.id
        installation = models.Installation(
            organization_id=org,
            provider="github",
            access_token_enc="x",
            account_id="42",
            account_name="acme",
            status=models.InstallationStatus.ACTIVE,
        )
        session.add(installation)
        await session.flush()
        session.add(TrackerWebhook(organization_id=org, installation_id=installation.id, scope="acme/app"))
        session.add(
            models.Interaction(
                organization_id=org,
                installation_id=installation.id,
                operation="get_issue",
                method="GET",
                path="/repos/{owner}/{repo}/issues/{number}",
                http_status=200,
                duration_ms=12,
                outcome=models.InteractionOutcome.SUCCESS,
            )
        )
        external = models.ExternalIssue(
            organization_id=org,
            installation_id=installation.id,
            key="acme/app#1",
            url="https://github.com/acme/app/issues/1",
            title="t",
            last_synced_at=now,
        )
        session.add(external)
        await session.flush()
        session.add(models.IssueLink(organization_id=org, issue_id=issue.id, external_issue_id=external.id))
        request = TicketRequest(
            organization_id=org,
            issue_id=issue.id,
            installation_id=installation.id,
            target="acme/app",
            external_issue_id=external.id,
        )
        session.add(request)
        session.add(Comment(organization_id=org, issue_id=issue.id, body="hello"))
        session.add(
            Comment(
                organization_id=org,
                issue_id=issue.id,
                body="seen in the tracker",
                source_installation_id=installation.id,
                source_provider="github",
                author_name="octocat",
            )
        )
        rule = models.Rule(
            organization_id=org,
            project_id=boot.project_id,
            name="r",
            trigger=models.RuleTrigger.NEW_ISSUE,
            filters={"tags": {"region": "eu"}},
            installation_id=installation.id,
            target="acme/app",
            assignee_id=member.id,
        )
        session.add(rule)
        await session.flush()
        session.add(
            models.RuleFiring(
                organization_id=org,
                rule_id=rule.id,
                project_id=boot.project_id,
                issue_id=issue.id,
                action="ticket",
                cause="new",
                outcome=models.FiringOutcome.CREATED,
                external_issue_id=external.id,
            )
        )
        emit(session, "issue.created", org, {"issue_id": issue.id, "project_id": boot.project_id})
        await session.flush()
        event_id = (
            await session.execute(select(func.min(models.Event.id)).where(models.Event.issue_id == issue.id))
        ).scalar_one()
        await session.commit()
    created = await w.run(
        {tokens.ADMIN},
        """mutation { createApp(input: {name: "scoped", kind: INTERNAL, scopes: ["issue:read"]}) {
             __typename ... on UserError { message }
             ... on CreateAppPayload { app { id } installation { id } } } }""",
        {},
    )
    assert created.errors is None and created.data["createApp"]["__typename"] == "CreateAppPayload", created
    app_pk = ids.decode_as(created.data["createApp"]["app"]["id"], "App")
    inst_pk = ids.decode_as(created.data["createApp"]["installation"]["id"], "AppInstallation")
    async with runtime.sessions() as session:
        delivery = models.Delivery(
            app_id=app_pk,
            owner_organization_id=org,
            organization_id=org,
            installation_id=inst_pk,
            event_type="issue.created",
            event_id="evt_1",
            msg_id="msg_1",
            body="{}",
            status=models.DeliveryStatus.SUCCEEDED,
            attempts=1,
        )
        session.add(delivery)
        await session.flush()
        session.add(
            models.DeliveryAttempt(
                delivery_id=delivery.id,
                app_id=app_pk,
                number=1,
                trigger=models.AttemptTrigger.SCHEDULED,
                url="http://127.0.0.1:9/hook",
                started_at=now - timedelta(seconds=1),
                duration_ms=5,
                status_code=200,
                outcome="success",
            )
        )
        await session.commit()
    w.ids = {
        "Organization": ids.encode("Organization", org),
        "Project": ids.encode("Project", boot.project_id),
        "Issue": ids.encode("Issue", issue.id),
        "Event": ids.encode("Event", event_id),
        "Member": ids.encode("Member", member.id),
        "Installation": ids.encode("Installation", installation.id),
        "TicketRequest": ids.encode("TicketRequest", request.id),
        "App": ids.encode("App", app_pk),
        "Rule": ids.encode("Rule", rule.id),
        "Delivery": ids.encode("Delivery", delivery.id),
    }
    yield w


def render(edge: Edge, path: tuple[Step, ...], world: World) -> tuple[str, dict[str, Any]]:
    """The query reaching `edge` along `path`, with its variables."""
    steps = (*path, edge.step)
    declared: list[str] = []
    variables: dict[str, Any] = {}
    text = "__typename"
    for i, step in reversed(list(enumerate(steps))):
        args = ""
        if step.needs == "id":
            declared.append(f"$v{i}: ID!")
            variables[f"v{i}"] = world.ids.get(step.type_name, ids.encode(step.type_name, 1))
            args = f"(id: $v{i})"
        elif step.needs == "representations":
            declared.append(f"$v{i}: [_Any!]!")
            gid = world.ids.get(step.type_name, ids.encode(step.type_name, 1))
            variables[f"v{i}"] = [{"__typename": step.type_name, "id": gid}]
            args = f"(representations: $v{i})"
        inner = f"... on {step.on} {{ {text} }}" if step.on else text
        text = f"{step.field}{args} {{ {inner} }}"
    head = f"query({', '.join(declared)})" if declared else "query"
    return f"{head} {{ {text} }}", variables


def values_at(data: Any, edge: Edge, path: tuple[Step, ...]) -> list[Any]:
    """The values of the edge's field in every parent the response holds."""
    parents: list[Any] = [data]
    for step in path:
        following: list[Any] = []
        for p in parents:
            value = p.get(step.field) if isinstance(p, dict) else None
            following.extend(v for v in (value if isinstance(value, list) else [value]) if v is not None)
        parents = following
    found = [p[edge.step.field] for p in parents if isinstance(p, dict) and edge.step.field in p]
    # A list field (`_entities`, `nodes`) is refused entry by entry.
    return [v for value in found for v in (value if isinstance(value, list) else [value])]


def _unexpected(errors: list[GraphQLError] | None) -> list[GraphQLError]:
    return [
        e
        for e in errors or ()
        if e.original_error is not None and not isinstance(e.original_error, GraphQLError)
    ]


def _forbidden(errors: list[GraphQLError] | None, scope: str) -> bool:
    return any(
        (e.extensions or {}).get("code") == "FORBIDDEN" and (e.extensions or {}).get("requiredScope") == scope
        for e in errors or ()
    )


@strawberry.type
class Secret:
    value: str


@strawberry.type
class UnclassifiedQuery:
    @strawberry.field
    def secret(self) -> Secret | None:
        return Secret(value="s3cret")


# -- the tests --------------------------------------------------------------------------------------------


def test_every_object_type_is_classified() -> None:
    assert UNCLASSIFIED == [], (
        f"classify these types in conduit.schema.permissions.TYPE_SCOPES (a scope, or None): {UNCLASSIFIED}"
    )


def test_every_field_returning_a_scoped_type_is_guarded() -> None:
    """Over the whole schema: Query, Mutation payloads, Subscription, node and _entities alike."""
    unguarded = []
    for type_ in SCHEMA.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, f in type_.fields.items():
            target = get_named_type(f.type)
            if isinstance(target, GraphQLObjectType) and SCOPES[target.name] is not None:
                if getattr(f.resolve, "required_scope", None) != SCOPES[target.name]:
                    unguarded.append(f"{type_.name}.{name} -> {target.name}")
            elif isinstance(target, GraphQLInterfaceType | GraphQLUnionType) and not getattr(
                f.resolve, "checks_resolved_types", False
            ):
                unguarded.append(f"{type_.name}.{name} -> {target.name}")
    assert unguarded == []


def test_the_walk_reaches_every_scoped_type() -> None:
    scoped = {name for name, scope in SCOPES.items() if scope is not None}
    reached = {e.step.type_name for e in QUERY_EDGES}
    # Mutation-only types would show here; today every scoped type can also be read.
    assert scoped - reached == set()


@pytest.mark.parametrize("edge", QUERY_EDGES, ids=str)
async def test_scope_is_checked_on(edge: Edge, world: World) -> None:
    # The first path that reaches a parent with the scope held (`node` serves only some types).
    for path in edge.paths:
        query, variables = render(edge, path, world)
        held = await world.run(scopes_of(path) | {edge.scope}, query, variables)
        assert held.errors is None, (query, held.errors)
        if any(v is not None for v in values_at(held.data, edge, path)):
            break
    else:
        if edge.step.on is not None:
            pytest.skip(f"`{edge.step.field}` serves no {edge.step.on}: nothing to guard")
        raise AssertionError(f"no path reaches {edge}: seed one in `world`")

    # A token of every scope on the way but this one.
    lacking = (scopes_of(path) - {edge.scope}) or {
        next(s for s in ("job:read", "org:read") if s != edge.scope)
    }
    refused = await world.run(lacking, query, variables)
    assert _unexpected(refused.errors) == []
    assert _forbidden(refused.errors, edge.scope), (query, refused.errors)
    assert all(v is None for v in values_at(refused.data, edge, path)), (query, refused.data)


async def test_mutation_payloads_are_guarded_too(world: World) -> None:
    """An `issue:write` token updates an issue but reads nothing beyond it through the payload."""
    result = await world.run(
        {"issue:write"},
        """mutation($id: ID!) { updateIssue(input: {id: $id}) { ... on UpdateIssuePayload {
             issue { title assignee { email } project { name } latestEvent { message } } } } }""",
        {"id": world.ids["Issue"]},
    )
    issue = result.data["updateIssue"]["issue"]
    assert issue["title"] and issue["assignee"] is None and issue["project"] is None
    assert issue["latestEvent"] is None
    assert {e.extensions["requiredScope"] for e in result.errors} == {
        "member:read",
        "project:read",
        "event:read",
    }


async def test_an_unclassified_type_is_refused_and_reported(world: World) -> None:
    """Fail closed: a type nobody classified needs `admin`, and `classify` names it."""
    schema = strawberry.Schema(query=UnclassifiedQuery)
    enforce_scopes(schema)
    assert classify(schema._schema)[1] == ["Secret"]
    async with world.runtime.sessions() as session:
        viewer = await authenticate(session, await world.token({"org:write", "issue:write"}))
    assert viewer is not None
    result = await schema.execute("{ secret { value } }", context_value=context_for(world.runtime, viewer))
    assert result.data == {"secret": None}
    assert result.errors and result.errors[0].extensions == {"code": "FORBIDDEN", "requiredScope": "admin"}


async def test_nested_reads_of_the_report_are_refused(world: World) -> None:
    """The reads from the security report: each nested resource now needs its own scope."""
    result = await world.run(
        {"issue:read"},
        """query($id: ID!) { issue(id: $id) { title assignee { email } project { organization { name } }
             links { externalIssue { key installation { baseUrl webhookUrl config { issueType } } } } } }""",
        {"id": world.ids["Issue"]},
    )
    issue = result.data["issue"]
    assert issue["title"] and issue["assignee"] is None and issue["project"] is None
    assert issue["links"][0]["externalIssue"] == {"key": "acme/app#1", "installation": None}
    assert sorted(e.extensions["requiredScope"] for e in result.errors) == [
        "installation:read",
        "member:read",
        "project:read",
    ]
    result = await world.run(
        {"event:read"},
        "query($id: ID!) { node(id: $id) { ... on Event { message issue { title assignee { email } } } } }",
        {"id": world.ids["Event"]},
    )
    assert result.data["node"]["message"] and result.data["node"]["issue"] is None
    assert [e.extensions["requiredScope"] for e in result.errors] == ["issue:read"]


@pytest.mark.parametrize(
    "held",
    [
        *[[s] for s in tokens.ALL_SCOPES],
        ["issue:write", "event:read"],
        ["token:write", "project:read", "webhook:write"],
        [tokens.ADMIN, "issue:read"],
    ],
)
def test_a_viewer_grants_exactly_what_its_token_scopes_do(held: list[str]) -> None:
    # Fields check the viewer's precomputed set; it must agree with the rule tokens are minted under.
    viewer = Viewer(organization_id=1, token_id=1, scopes=tuple(held))
    for needed in [*tokens.ALL_SCOPES, "unknown:read"]:
        assert viewer.can(needed) is tokens.grants(held, needed), (held, needed)
