"""The static cost of operations on the real schema, and its limit over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from graphql import OperationDefinitionNode, get_introspection_query, parse

from conduit import ids
from conduit.ingest.normalize import MAX_FRAMES
from conduit.resolvers import build_schema
from conduit.runtime import Runtime
from conduit.schema.cost import FIELD_WEIGHTS, INTROSPECTION_WEIGHTS, operation_cost
from conduit.schema.pagination import DEFAULT_PAGE, MAX_PAGE
from conduit.settings import Settings
from tests.conftest import Tenant
from tests.factories import make_issue

SCHEMA = build_schema()._schema
LIMIT = Settings.model_fields["graphql_max_cost"].default
GRAPHQL_RESPONSE = {"Accept": "application/graphql-response+json"}

# The finding: three nested pages of 100 issues, a million objects.
NESTED = """project(id: $p) { issues(first: 100) { nodes { project { issues(first: 100) {
  nodes { project { issues(first: 100) { nodes { id } } } } } } } } }"""
MILLION = "query($p: ID!) { " + NESTED + " }"

# What the console asks for: a page of 50 issues, each with its latest event and its tickets.
CONSOLE_PAGE = """query Console($p: ID!, $after: String) {
  project(id: $p) {
    id name
    issues(first: 50, after: $after, sort: LAST_SEEN) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id title culprit level status count firstSeen lastSeen
        assignee { id name email }
        latestEvent {
          id eventId timestamp message environment release
          tags { key value }
          stacktrace { filename function lineno inApp }
        }
        links { id broken externalIssue { id key url title status statusCategory } }
      }
    }
  }
}"""


def cost(query: str, variables: dict[str, Any] | None = None, budget: int = 10**12) -> int:
    document = parse(query)
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    result = operation_cost(SCHEMA, document, operation, variables or {}, budget)
    assert result.exact
    return result.value


def test_the_million_node_query_costs_millions() -> None:
    # issues(first: 100) { nodes { id } } = 1 + 100 x (1 + 1); each level wraps it in
    # nodes { project { ... } } and multiplies by 100 again.
    level3 = 1 + 100 * 2
    level2 = 1 + 100 * (1 + 1 + level3)
    level1 = 1 + 100 * (1 + 1 + level2)
    assert cost(MILLION) == 1 + level1 == 2_030_302
    assert cost(MILLION) > LIMIT


def test_a_console_page_is_within_the_limit() -> None:
    # Priced at its bounds (200 frames and 100 tags per event), not at what a typical event holds.
    assert cost(CONSOLE_PAGE) < LIMIT * 0.7


def test_bounded_lists_cost_their_bound_and_aggregates_their_weight() -> None:
    frames = "query($p: ID!) { project(id: $p) { issues(first: 1) { nodes { latestEvent { stacktrace { lineno } } } } } }"
    # project 1 + issues (1 + 1 x (nodes 1 + 1 x (latestEvent 1 + 1 x (stacktrace 1 + 200 x lineno 1))))
    assert cost(frames) == 1 + 1 + 1 + 1 + 1 + MAX_FRAMES
    one_app = "{ apps { health { deliveries } } }"
    # apps has no paging and Conduit caps an organization's apps at a page: 1 + 100 x (weight + 1)
    assert cost(one_app) == 1 + MAX_PAGE * (FIELD_WEIGHTS[("App", "health")] + 1)


def test_introspection_costs_what_it_answers() -> None:
    whole = "{ __schema { types { name } } }"
    assert cost(whole) == INTROSPECTION_WEIGHTS["__schema"]
    aliased = "{ " + " ".join(f"a{i}: __schema {{ types {{ name }} }}" for i in range(21)) + " }"
    assert cost(aliased) > LIMIT
    assert cost("{ __typename }") == 1


def test_page_size_comes_from_first_a_variable_or_the_default() -> None:
    one = "{ organization { projects(first: 10) { nodes { id } } } }"
    assert cost(one) == 1 + (1 + 10 * (1 + 1))
    by_variable = "query($n: Int) { organization { projects(first: $n) { nodes { id } } } }"
    assert cost(by_variable, {"n": 10}) == cost(one)
    defaulted = "query($n: Int = 10) { organization { projects(first: $n) { nodes { id } } } }"
    assert cost(defaulted) == cost(one)
    absent = "{ organization { projects { nodes { id } } } }"
    assert cost(absent) == 1 + (1 + DEFAULT_PAGE * 2)
    # More than a page can hold is refused by the resolver; it never costs more than a full page.
    huge = "{ organization { projects(first: 100000) { nodes { id } } } }"
    assert cost(huge) == 1 + (1 + MAX_PAGE * 2)
    # A variable that is not a number fails coercion later; until then it counts as a full page.
    assert cost(by_variable, {"n": "lots"}) == cost(huge)
    assert cost("{ organization { projects(first: 0) { nodes { id } } } }") == 2


def test_fragments_inline_fragments_and_aliases_are_counted() -> None:
    plain = "{ organization { projects(first: 10) { nodes { id name } } } }"
    with_fragments = """{ organization { projects(first: 10) { nodes { ...P } } } }
        fragment P on Project { id ... on Project { name } }"""
    assert cost(with_fragments) == cost(plain)
    aliased = "{ a: organization { projects(first: 10) { nodes { id name } } } b: organization { id } }"
    assert cost(aliased) == cost(plain) + 2
    # The same field twice is merged, as execution merges it.
    twice = "{ organization { projects(first: 10) { nodes { id name } nodes { id } } } }"
    assert cost(twice) == cost(plain)


def test_abstract_types_count_every_branch() -> None:
    query = 'query { node(id: "x") { id ... on Issue { title } ... on Project { name keys { dsn } } } }'
    # node + id + title + name + keys (1 + 25 x dsn).
    assert cost(query) == 1 + 1 + 1 + 1 + (1 + DEFAULT_PAGE)


def test_entities_multiply_by_their_representations() -> None:
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Issue { id title } } }"
    reps = [{"__typename": "Issue", "id": ids.encode("Issue", n)} for n in range(1, 1001)]
    assert cost(query, {"r": reps}) == 1 + 1000 * 2
    assert cost(query, {"r": []}) == 1


def test_introspection_is_priced_once_not_multiplied() -> None:
    # GraphiQL's introspection query lists every type, field and argument: the whole schema, once.
    assert cost(get_introspection_query(descriptions=True)) == INTROSPECTION_WEIGHTS["__schema"]


def test_the_walk_stops_past_the_budget_and_says_so() -> None:
    wide = parse("query($p: ID!) { " + " ".join(f"a{i}: {NESTED}" for i in range(3)) + " }")
    [operation] = [d for d in wide.definitions if isinstance(d, OperationDefinitionNode)]
    result = operation_cost(SCHEMA, wide, operation, {}, LIMIT)
    # The first alias is already over: the others are not walked, and the cost is a lower bound.
    assert result.value == cost(MILLION)
    assert not result.exact


async def test_the_million_node_query_is_refused_before_it_runs(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {"query": MILLION, "variables": {"p": ids.encode("Project", tenant.project_id)}}
    r = await client.post("/graphql", json=body, headers={**tenant.auth, **GRAPHQL_RESPONSE})
    assert r.status_code == 400
    assert "data" not in r.json()
    [error] = r.json()["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 2_030_302, "limit": LIMIT}
    assert f"costs 2030302, over the limit of {LIMIT}" in error["message"]
    legacy = await client.post("/graphql", json=body, headers=tenant.auth)
    assert legacy.status_code == 200
    assert legacy.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_aliases_do_not_escape_the_cost(client: httpx.AsyncClient, tenant: Tenant) -> None:
    # Two nested pages of 100 are within the limit; six aliases of them are not.
    two_levels = (
        "project(id: $p) { issues(first: 100) { nodes { project { issues(first: 100) { nodes { id } } } } } }"
    )
    assert cost("query($p: ID!) { " + two_levels + " }") < LIMIT
    query = "query($p: ID!) { " + " ".join(f"a{i}: {two_levels}" for i in range(6)) + " }"
    body = {"query": query, "variables": {"p": ids.encode("Project", tenant.project_id)}}
    r = await client.post("/graphql", json=body, headers={**tenant.auth, **GRAPHQL_RESPONSE})
    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] > LIMIT


async def test_a_console_page_runs(client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        for n in range(50):
            await make_issue(session, tenant.organization_id, tenant.project_id, title=f"E{n}: boom")
        await session.commit()
    body = {"query": CONSOLE_PAGE, "variables": {"p": ids.encode("Project", tenant.project_id)}}
    r = await client.post("/graphql", json=body, headers={**tenant.auth, **GRAPHQL_RESPONSE})
    assert r.status_code == 200, r.text
    assert "errors" not in r.json()
    nodes = r.json()["data"]["project"]["issues"]["nodes"]
    assert len(nodes) == 50
    assert all(n["latestEvent"]["stacktrace"] for n in nodes)
