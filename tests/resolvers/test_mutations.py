from __future__ import annotations

from sqlalchemy import select

from conduit import ids
from conduit.auth.bearer import authenticate
from conduit.auth.tokens import hash_token
from conduit.db.models import ApiToken, OutboxRow
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.factories import make_issue, make_member
from tests.resolvers.conftest import Execute

UPDATE = """mutation($input: UpdateIssueInput!) { updateIssue(input: $input) {
  __typename ... on UpdateIssuePayload { issue { status assignee { email } resolvedAt } }
  ... on UserError { message } ... on ValidationError { field } ... on ForbiddenError { requiredScope } } }"""
CREATE_TOKEN = """mutation($name: String!, $scopes: [String!]!) { createApiToken(input: {name: $name, scopes: $scopes}) {
  __typename ... on CreateApiTokenPayload { value token { id prefix scopes } }
  ... on UserError { message } ... on ForbiddenError { requiredScope } } }"""


async def _outbox_types(runtime: Runtime, org_id: int) -> list[str]:
    async with runtime.sessions() as session:
        stmt = select(OutboxRow).where(OutboxRow.organization_id == org_id).order_by(OutboxRow.id)
        rows = (await session.execute(stmt)).scalars()
        return [r.payload["type"] for r in rows if r.kind == "events.publish"]


async def test_create_project_returns_dsn(gql: Execute, tenant: Tenant) -> None:
    q = """mutation { createProject(input: {name: "Web Frontend", platform: "javascript"}) {
      __typename ... on CreateProjectPayload { dsn project { name slug keys { dsn } } } ... on UserError { message } } }"""
    data = await gql(tenant.token, q)
    payload = data["createProject"]
    assert payload["project"]["slug"] == "web-frontend"
    assert payload["project"]["keys"][0]["dsn"] == payload["dsn"]
    assert payload["dsn"].startswith("http://") and "@testserver/" in payload["dsn"]
    again = await gql(tenant.token, q)
    assert again["createProject"]["__typename"] == "ValidationError"
    assert "exists already" in again["createProject"]["message"]
    blank = await gql(tenant.token, 'mutation { createProject(input: {name: "  "}) { __typename } }')
    assert blank["createProject"]["__typename"] == "ValidationError"


async def test_resolve_assign_and_events(runtime: Runtime, gql: Execute, tenant: Tenant) -> None:
    async with runtime.sessions() as session:
        issue = await make_issue(session, tenant.organization_id, tenant.project_id)
        member = await make_member(session, tenant.organization_id, "dev@example.com")
        await session.commit()
    iid, mid = ids.encode("Issue", issue.id), ids.encode("Member", member.id)
    data = await gql(tenant.token, UPDATE, {"input": {"id": iid, "status": "RESOLVED", "assigneeId": mid}})
    out = data["updateIssue"]
    assert out["issue"]["status"] == "RESOLVED" and out["issue"]["resolvedAt"]
    assert out["issue"]["assignee"]["email"] == "dev@example.com"
    # Unchanged status emits nothing; omitting assigneeId keeps the assignee.
    data = await gql(tenant.token, UPDATE, {"input": {"id": iid, "status": "RESOLVED"}})
    assert data["updateIssue"]["issue"]["assignee"]["email"] == "dev@example.com"
    data = await gql(tenant.token, UPDATE, {"input": {"id": iid, "status": "UNRESOLVED", "assigneeId": None}})
    assert data["updateIssue"]["issue"] == {"status": "UNRESOLVED", "assignee": None, "resolvedAt": None}
    assert await _outbox_types(runtime, tenant.organization_id) == [
        "issue.resolved",
        "issue.assigned",
        "issue.unresolved",
        "issue.assigned",
    ]


async def test_update_issue_across_tenants(
    runtime: Runtime, gql: Execute, tenant: Tenant, tenant2: Tenant
) -> None:
    async with runtime.sessions() as session:
        issue = await make_issue(session, tenant.organization_id, tenant.project_id)
        foreign_member = await make_member(session, tenant2.organization_id)
        await session.commit()
    iid = ids.encode("Issue", issue.id)
    data = await gql(tenant2.token, UPDATE, {"input": {"id": iid, "status": "RESOLVED"}})
    assert data["updateIssue"] == {"__typename": "NotFoundError", "message": "issue not found"}
    mid = ids.encode("Member", foreign_member.id)
    data = await gql(tenant.token, UPDATE, {"input": {"id": iid, "assigneeId": mid}})
    assert data["updateIssue"]["__typename"] == "ValidationError"
    assert data["updateIssue"]["field"] == "assigneeId"
    data = await gql(tenant.token, UPDATE, {"input": {"id": "nonsense", "status": "RESOLVED"}})
    assert data["updateIssue"]["__typename"] == "ValidationError"
    assert await _outbox_types(runtime, tenant.organization_id) == []


async def test_token_lifecycle(runtime: Runtime, gql: Execute, tenant: Tenant) -> None:
    data = await gql(tenant.token, CREATE_TOKEN, {"name": "ci", "scopes": ["issue:read"]})
    created = data["createApiToken"]
    value = created["value"]
    assert value.startswith("cdt_") and value.startswith(created["token"]["prefix"])
    async with runtime.sessions() as session:
        row = (
            await session.execute(select(ApiToken).where(ApiToken.prefix == created["token"]["prefix"]))
        ).scalar_one()
        assert row.token_hash == hash_token(value) and value not in (row.token_hash, row.prefix)
    # The new token reads issues but cannot write them nor mint tokens.
    data = await gql(value, UPDATE, {"input": {"id": ids.encode("Issue", 1), "status": "RESOLVED"}})
    assert data["updateIssue"] == {
        "__typename": "ForbiddenError",
        "message": "this token lacks the `issue:write` scope",
        "requiredScope": "issue:write",
    }
    result = await gql(value, "{ organization { apiTokens { nodes { id } } } }", ok=False)
    assert result.errors[0].extensions["code"] == "FORBIDDEN"
    revoke = "mutation($id: ID!) { revokeApiToken(id: $id) { __typename ... on RevokeApiTokenPayload { token { revokedAt } } } }"
    data = await gql(tenant.token, revoke, {"id": created["token"]["id"]})
    assert data["revokeApiToken"]["token"]["revokedAt"]
    async with runtime.sessions() as session:
        assert await authenticate(session, value) is None


async def test_token_cannot_escalate(gql: Execute, tenant: Tenant) -> None:
    data = await gql(tenant.token, CREATE_TOKEN, {"name": "writer", "scopes": ["token:write", "issue:read"]})
    limited = data["createApiToken"]["value"]
    data = await gql(limited, CREATE_TOKEN, {"name": "escalate", "scopes": ["admin"]})
    assert data["createApiToken"]["__typename"] == "ForbiddenError"
    data = await gql(limited, CREATE_TOKEN, {"name": "bad", "scopes": ["root"]})
    assert data["createApiToken"]["__typename"] == "ValidationError"
    assert "unknown scope" in data["createApiToken"]["message"]
    data = await gql(limited, CREATE_TOKEN, {"name": "same", "scopes": ["issue:read"]})
    assert data["createApiToken"]["__typename"] == "CreateApiTokenPayload"


REVOKE = """mutation($id: ID!) { revokeApiToken(id: $id) {
  __typename ... on RevokeApiTokenPayload { token { revokedAt } } ... on ForbiddenError { requiredScope } } }"""


async def test_revoking_needs_the_target_tokens_scopes(
    runtime: Runtime, gql: Execute, tenant: Tenant
) -> None:
    data = await gql(tenant.token, CREATE_TOKEN, {"name": "revoker", "scopes": ["token:write"]})
    limited = data["createApiToken"]["value"]
    tokens = await gql(tenant.token, "{ organization { apiTokens { nodes { id scopes } } } }")
    admin_id = next(t["id"] for t in tokens["organization"]["apiTokens"]["nodes"] if t["scopes"] == ["admin"])

    refused = (await gql(limited, REVOKE, {"id": admin_id}))["revokeApiToken"]
    assert refused == {"__typename": "ForbiddenError", "requiredScope": "admin"}
    async with runtime.sessions() as session:
        assert await authenticate(session, tenant.token) is not None  # the admin token still works

    data = await gql(tenant.token, CREATE_TOKEN, {"name": "reader", "scopes": ["issue:read", "token:read"]})
    reader_id = data["createApiToken"]["token"]["id"]
    refused = (await gql(limited, REVOKE, {"id": reader_id}))["revokeApiToken"]
    assert refused == {"__typename": "ForbiddenError", "requiredScope": "issue:read"}

    # `token:write` covers `token:read`; admin covers everything.
    data = await gql(tenant.token, CREATE_TOKEN, {"name": "peer", "scopes": ["token:read"]})
    peer = (await gql(limited, REVOKE, {"id": data["createApiToken"]["token"]["id"]}))["revokeApiToken"]
    assert peer["__typename"] == "RevokeApiTokenPayload" and peer["token"]["revokedAt"]
    done = (await gql(tenant.token, REVOKE, {"id": reader_id}))["revokeApiToken"]
    assert done["__typename"] == "RevokeApiTokenPayload"


async def test_revoke_other_tenants_token_is_not_found(gql: Execute, tenant: Tenant, tenant2: Tenant) -> None:
    data = await gql(tenant.token, CREATE_TOKEN, {"name": "mine", "scopes": ["issue:read"]})
    token_id = data["createApiToken"]["token"]["id"]
    revoke = "mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }"
    data = await gql(tenant2.token, revoke, {"id": token_id})
    assert data["revokeApiToken"]["__typename"] == "NotFoundError"


async def test_add_member(gql: Execute, tenant: Tenant) -> None:
    q = """mutation($e: String!) { addMember(input: {email: $e, name: "Ada"}) { __typename
      ... on AddMemberPayload { member { email role } } ... on ValidationError { field } } }"""
    data = await gql(tenant.token, q, {"e": "Ada@Example.com"})
    assert data["addMember"]["member"] == {"email": "ada@example.com", "role": "MEMBER"}
    assert (await gql(tenant.token, q, {"e": "ada@example.com"}))["addMember"][
        "__typename"
    ] == "ValidationError"
    assert (await gql(tenant.token, q, {"e": "not an email"}))["addMember"]["field"] == "email"
