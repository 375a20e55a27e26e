"""`_entities` on the real schema, as a federation gateway calls it: batches limited by cost, one error per
bad representation."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from conduit import ids
from conduit.runtime import Runtime
from tests.conftest import Tenant

QUERY = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id name } } }"
HEADERS = {"Accept": "application/graphql-response+json"}


async def entities(
    client: httpx.AsyncClient, tenant: Tenant, reps: list[Any], query: str = QUERY
) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": {"r": reps}}, headers={**tenant.auth, **HEADERS}
    )


def raw_id(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def test_a_batch_over_the_old_fixed_cap_resolves(client: httpx.AsyncClient, tenant: Tenant) -> None:
    # A gateway cannot split a batch: 101 small references must work.
    project = {"__typename": "Project", "id": ids.encode("Project", tenant.project_id)}
    r = await entities(client, tenant, [project] * 101)
    assert r.status_code == 200, r.text
    assert "errors" not in r.json()
    assert r.json()["data"]["_entities"] == [{"id": project["id"], "name": "backend"}] * 101


async def test_a_huge_batch_is_refused_by_cost(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    limit = runtime.settings.graphql_max_cost
    project = {"__typename": "Project", "id": ids.encode("Project", tenant.project_id)}
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id name organization { id name } } } }"
    # 1 + n x (id + name + organization (1 + id + name)) = 1 + 5n
    n = limit // 5 + 1
    r = await entities(client, tenant, [project] * n, query)
    assert r.status_code == 400
    assert "data" not in r.json()
    [error] = r.json()["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 1 + 5 * n, "limit": limit}


async def test_bad_representations_get_an_error_each_and_the_rest_resolves(
    client: httpx.AsyncClient, tenant: Tenant, tenant2: Tenant
) -> None:
    mine = {"__typename": "Project", "id": ids.encode("Project", tenant.project_id)}
    theirs = {"__typename": "Project", "id": ids.encode("Project", tenant2.project_id)}
    bad: dict[int, tuple[Any, str]] = {
        1: ({}, "no `__typename`"),
        2: ("Project", "must be an object"),
        3: ({"__typename": "Nope", "id": mine["id"]}, "`Nope`, which is not an entity"),
        4: ({"__typename": "Project", "id": tenant.project_id}, "not a string"),
        5: ({"__typename": "Project", "id": raw_id(f"Project:0{tenant.project_id}")}, "unusable `id`"),
        6: ({"__typename": "Project", "id": raw_id("Project:9223372036854775808")}, "unusable `id`"),
        7: ({"__typename": "Project"}, "exactly the key field `id`"),
        8: ({"__typename": "Project", "id": mine["id"], "name": "x"}, "exactly the key field `id`"),
        9: ({"__typename": "Issue", "id": mine["id"]}, "unusable `id`"),
        10: ({"__typename": 7, "id": mine["id"]}, "no `__typename`"),
    }
    reps: list[Any] = [mine, *(rep for rep, _ in bad.values()), theirs, mine]
    r = await entities(client, tenant, reps)
    assert r.status_code == 200, r.text
    body = r.json()
    resolved = {"id": mine["id"], "name": "backend"}
    # Another organization's project is null without an error, as in `node(id)`.
    assert body["data"]["_entities"] == [resolved, *([None] * len(bad)), None, resolved]
    errors = {tuple(e["path"]): e for e in body["errors"]}
    assert set(errors) == {("_entities", i) for i in bad}
    for index, (_, fragment) in bad.items():
        error = errors[("_entities", index)]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "representations"}
        assert error["message"].startswith(f"representation {index} ")
        assert fragment in error["message"], error["message"]
