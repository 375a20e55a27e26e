"""The `_entities` batch limit on the real schema, as a gateway would call it."""

from __future__ import annotations

import httpx

from conduit.runtime import Runtime
from conduit.schema import ids
from tests.conftest import Tenant

QUERY = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id name } } }"


async def test_entities_batch_limit(client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime) -> None:
    limit = runtime.settings.graphql_max_entities
    project = {"__typename": "Project", "id": ids.encode("Project", tenant.project_id)}
    headers = {**tenant.auth, "Accept": "application/graphql-response+json"}

    ok = await client.post(
        "/graphql", json={"query": QUERY, "variables": {"r": [project] * limit}}, headers=headers
    )
    assert ok.status_code == 200, ok.text
    entities = ok.json()["data"]["_entities"]
    assert len(entities) == limit
    assert entities[0] == {"id": project["id"], "name": "backend"}

    over = await client.post(
        "/graphql", json={"query": QUERY, "variables": {"r": [project] * (limit + 1)}}, headers=headers
    )
    assert over.status_code == 422
    [error] = over.json()["errors"]
    assert error["extensions"]["code"] == "ENTITIES_LIMIT_EXCEEDED"
    assert "data" not in over.json()
