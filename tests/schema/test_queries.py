from __future__ import annotations

from sqlalchemy import event

from conduit import ids
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.factories import make_issue, make_project
from tests.schema.conftest import Execute

PAGE = """
query {
  organization {
    name
    projects(first: 50) {
      edges { node { name issues(first: 50) { edges { node { title count latestEvent { message } } } } } }
    }
  }
}
"""


async def _seed(runtime: Runtime, tenant: Tenant, projects: int, issues: int) -> None:
    async with runtime.sessions() as session:
        for _ in range(projects):
            p = await make_project(session, tenant.organization_id)
            for n in range(issues):
                await make_issue(session, tenant.organization_id, p.id, title=f"E{n}: x", events=2)
        await session.commit()


async def _count_statements(runtime: Runtime, gql: Execute, token: str) -> tuple[int, dict]:
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        data = await gql(token, PAGE)
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
    return len(seen), data


async def test_nested_page_statements_do_not_grow_with_rows(
    runtime: Runtime, gql: Execute, tenant: Tenant, tenant2: Tenant
) -> None:
    await _seed(runtime, tenant, projects=1, issues=2)
    await _seed(runtime, tenant2, projects=4, issues=12)
    small, small_data = await _count_statements(runtime, gql, tenant.token)
    large, large_data = await _count_statements(runtime, gql, tenant2.token)
    # The bootstrap project plus the seeded ones; every issue's latest event came back.
    assert len(large_data["organization"]["projects"]["edges"]) == 5
    seeded = [e for e in large_data["organization"]["projects"]["edges"] if e["node"]["issues"]["edges"]]
    assert sum(len(p["node"]["issues"]["edges"]) for p in seeded) == 48
    assert all(
        i["node"]["latestEvent"]["message"].endswith("#1")
        for p in seeded
        for i in p["node"]["issues"]["edges"]
    )
    assert small == large
    assert small_data["organization"]["projects"]["edges"]


async def test_issue_pagination_with_cursor_and_sort(runtime: Runtime, gql: Execute, tenant: Tenant) -> None:
    async with runtime.sessions() as session:
        for n in range(5):
            await make_issue(
                session, tenant.organization_id, tenant.project_id, title=f"Err{n}: x", events=n + 1
            )
        await session.commit()
    pid = ids.encode("Project", tenant.project_id)
    q = """query($id: ID!, $after: String) { project(id: $id) { issues(first: 2, sort: COUNT, after: $after) {
            edges { cursor node { title count } } pageInfo { hasNextPage endCursor } } } }"""
    seen: list[int] = []
    after = None
    while True:
        data = await gql(tenant.token, q, {"id": pid, "after": after})
        conn = data["project"]["issues"]
        seen += [e["node"]["count"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == [5, 4, 3, 2, 1]


async def test_issue_filters(runtime: Runtime, gql: Execute, tenant: Tenant) -> None:
    async with runtime.sessions() as session:
        await make_issue(session, tenant.organization_id, tenant.project_id, title="KeyError: 'user_id'")
        await make_issue(session, tenant.organization_id, tenant.project_id, title="TypeError: 100% bad")
        await session.commit()
    pid = ids.encode("Project", tenant.project_id)
    q = """query($id: ID!, $q: String, $s: IssueStatus) { project(id: $id) {
            issues(query: $q, status: $s) { nodes { title } } } }"""
    data = await gql(tenant.token, q, {"id": pid, "q": "keyerror"})
    assert [n["title"] for n in data["project"]["issues"]["nodes"]] == ["KeyError: 'user_id'"]
    # LIKE wildcards in the query are matched literally.
    data = await gql(tenant.token, q, {"id": pid, "q": "0%"})
    assert [n["title"] for n in data["project"]["issues"]["nodes"]] == ["TypeError: 100% bad"]
    data = await gql(tenant.token, q, {"id": pid, "s": "RESOLVED"})
    assert data["project"]["issues"]["nodes"] == []


async def test_node_and_events(runtime: Runtime, gql: Execute, tenant: Tenant) -> None:
    async with runtime.sessions() as session:
        issue = await make_issue(session, tenant.organization_id, tenant.project_id, events=3)
        await session.commit()
    iid = ids.encode("Issue", issue.id)
    q = """query($id: ID!) { node(id: $id) { id ... on Issue { title project { name }
            events(first: 2) { edges { node { message tags { key value } stacktrace { function lineno } } }
                               pageInfo { hasNextPage } } } } }"""
    data = await gql(tenant.token, q, {"id": iid})
    node = data["node"]
    assert node["id"] == iid
    assert node["project"]["name"] == "backend"
    assert [e["node"]["message"] for e in node["events"]["edges"]] == [
        "ValueError: boom #2",
        "ValueError: boom #1",
    ]
    assert node["events"]["pageInfo"]["hasNextPage"] is True
    assert node["events"]["edges"][0]["node"]["stacktrace"] == [{"function": "main", "lineno": 12}]


async def test_other_tenant_sees_nothing(
    runtime: Runtime, gql: Execute, tenant: Tenant, tenant2: Tenant
) -> None:
    async with runtime.sessions() as session:
        issue = await make_issue(session, tenant.organization_id, tenant.project_id)
        await session.commit()
    iid = ids.encode("Issue", issue.id)
    pid = ids.encode("Project", tenant.project_id)
    oid = ids.encode("Organization", tenant.organization_id)
    q = """query($i: ID!, $p: ID!, $o: ID!) { issue(id: $i) { title } project(id: $p) { name }
            a: node(id: $i) { id } b: node(id: $p) { id } c: node(id: $o) { id } }"""
    data = await gql(tenant2.token, q, {"i": iid, "p": pid, "o": oid})
    assert data == {"issue": None, "project": None, "a": None, "b": None, "c": None}
    # The owner sees all of it, so the nulls above are tenancy and not a broken query.
    data = await gql(tenant.token, q, {"i": iid, "p": pid, "o": oid})
    assert data["issue"]["title"] == "ValueError: boom" and data["c"]["id"] == oid


async def test_entities_resolve_in_batches_and_respect_tenancy(
    runtime: Runtime, gql: Execute, tenant: Tenant, tenant2: Tenant
) -> None:
    async with runtime.sessions() as session:
        mine = [await make_issue(session, tenant.organization_id, tenant.project_id) for _ in range(3)]
        await session.commit()
    reps = [{"__typename": "Issue", "id": ids.encode("Issue", i.id)} for i in mine]
    reps.append({"__typename": "Project", "id": ids.encode("Project", tenant.project_id)})
    q = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Issue { title }
            ... on Project { name } } }"""
    data = await gql(tenant.token, q, {"r": [dict(r) for r in reps]})
    assert data["_entities"] == [{"title": "ValueError: boom"}] * 3 + [{"name": "backend"}]
    data = await gql(tenant2.token, q, {"r": [dict(r) for r in reps]})
    assert data["_entities"] == [None] * 4


async def test_malformed_ids_and_cursors_are_clear_errors(gql: Execute, tenant: Tenant) -> None:
    result = await gql(tenant.token, '{ issue(id: "not-an-id") { title } }', ok=False)
    assert result.errors and "is not a valid id" in result.errors[0].message
    result = await gql(tenant.token, '{ issue(id: "UHJvamVjdDox") { title } }', ok=False)  # a Project id
    assert result.errors and "is not the id of a Issue" in result.errors[0].message
    pid = ids.encode("Project", tenant.project_id)
    result = await gql(
        tenant.token,
        f'{{ project(id: "{pid}") {{ issues(after: "garbage") {{ nodes {{ id }} }} }} }}',
        ok=False,
    )
    assert result.errors and "is not a cursor" in result.errors[0].message
    result = await gql(
        tenant.token, f'{{ project(id: "{pid}") {{ issues(first: -1) {{ nodes {{ id }} }} }} }}', ok=False
    )
    assert result.errors and "must be between 0 and 100" in result.errors[0].message


async def test_installations_hang_off_the_organization(
    runtime: Runtime, gql: Execute, tenant: Tenant, tenant2: Tenant
) -> None:
    from conduit.db.models import Installation

    async with runtime.sessions() as session:
        row = Installation(organization_id=tenant.organization_id, provider="github", access_token_enc="x")
        session.add(row)
        await session.commit()
    gid = ids.encode("Installation", row.id)
    q = "{ organization { installations { nodes { id provider { key } } } } }"
    data = await gql(tenant.token, q)
    assert data["organization"]["installations"]["nodes"] == [{"id": gid, "provider": {"key": "github"}}]
    node = await gql(tenant.token, "query($id: ID!) { node(id: $id) { id } }", {"id": gid})
    assert node["node"] == {"id": gid}
    assert (await gql(tenant2.token, q))["organization"]["installations"]["nodes"] == []
    assert (await gql(tenant2.token, "query($id: ID!) { node(id: $id) { id } }", {"id": gid}))["node"] is None
