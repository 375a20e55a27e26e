"""Bad input to the app mutations gets a typed error naming the field; the catalog is queryable."""

from __future__ import annotations

from typing import Any

import jsonschema

from conduit.apps import service
from conduit.db.models import AppKind
from conduit.runtime import Runtime
from tests.apps.conftest import CREATE_APP, GQL
from tests.conftest import Tenant


async def create(gql: GQL, token: str, **fields: Any) -> dict[str, Any]:
    data = {"name": "x", "kind": "PUBLIC", "scopes": ["issue:read"], **fields}
    return dict((await gql(token, CREATE_APP, {"input": data}))["createApp"])


async def test_create_app_refuses_bad_input_with_the_field_at_fault(
    gql: GQL, rt: Runtime, tenant: Tenant
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "  "}, "name"),
        ({"events": ["issue.exploded"]}, "events"),
        ({"events": ["issue.created"]}, "webhookUrl"),  # subscribed without a URL
        ({"webhookUrl": "ftp://example.com/x"}, "webhookUrl"),
        ({"webhookUrl": "http://user:pw@example.com/x"}, "webhookUrl"),
        (
            {"webhookUrl": "http://169.254.169.254/latest"},
            "webhookUrl",
        ),  # metadata: refused even when private is allowed
        ({"redirectUrl": "javascript:alert(1)"}, "redirectUrl"),
        ({"scopes": ["issue:fly"]}, "scopes"),
        ({"webhookTimeoutSeconds": 0.5}, "webhookTimeoutSeconds"),
        ({"webhookTimeoutSeconds": 31}, "webhookTimeoutSeconds"),
        ({"rateLimitPerSecond": 0}, "rateLimitPerSecond"),
        ({"maxInFlight": 1000}, "maxInFlight"),
    ]
    for fields, field in cases:
        out = await create(gql, tenant.token, **fields)
        assert (out["__typename"], out.get("field")) == ("ValidationError", field), (fields, out)
        assert out["message"]


async def test_private_webhook_urls_are_refused_unless_allowed(
    gql: GQL, runtime: Runtime, tenant: Tenant
) -> None:
    strict = GQL(runtime)  # the plain test runtime: private addresses not allowed
    out = await create(strict, tenant.token, webhookUrl="http://127.0.0.1:9/hook")
    assert out["__typename"] == "ValidationError" and "CONDUIT_ALLOW_PRIVATE_WEBHOOK_URLS" in out["message"]


async def test_a_token_cannot_give_an_app_scopes_it_lacks(gql: GQL, rt: Runtime, tenant: Tenant) -> None:
    made = await gql(
        tenant.token,
        'mutation { createApiToken(input: {name: "narrow", scopes: ["app:write"]}) { ... on CreateApiTokenPayload { value } } }',
    )
    narrow = made["createApiToken"]["value"]
    out = await create(gql, narrow, scopes=["issue:write"])
    assert out["__typename"] == "ForbiddenError"
    allowed = await create(gql, narrow, scopes=["app:read"])
    assert allowed["__typename"] == "CreateAppPayload"


async def test_event_catalog_examples_match_their_schemas(gql: GQL, tenant: Tenant) -> None:
    data = await gql(tenant.token, "{ eventTypes { name version description schema example requiredScope } }")
    types = {t["name"]: t for t in data["eventTypes"]}
    assert {"issue.created", "installation.created", "endpoint.disabled"} <= types.keys()
    assert types["issue.created"]["requiredScope"] == "issue:read"
    assert types["installation.created"]["requiredScope"] is None
    for t in types.values():
        jsonschema.validate(t["example"], t["schema"])


async def test_unknown_ids_are_not_found(gql: GQL, tenant: Tenant, tenant2: Tenant) -> None:
    app = await gql.create_app(tenant.token, kind="INTERNAL")
    for query, variables in (
        ("mutation($id: ID!) { rotateAppSecret(appId: $id) { __typename } }", {"id": app["app"]["id"]}),
        ("mutation($id: ID!) { redeliver(deliveryId: $id) { __typename } }", {"id": "nonsense"}),
        (
            'mutation($id: ID!) { sendTestEvent(appId: $id, type: "issue.created") { __typename } }',
            {"id": app["app"]["id"]},
        ),
    ):
        out = await gql(tenant2.token, query, variables)
        assert next(iter(out.values()))["__typename"] == "NotFoundError", out


async def test_an_organization_owns_at_most_max_apps(gql: GQL, rt: Runtime, tenant: Tenant) -> None:
    # Filled through the service (a hundred GraphQL round trips add nothing); the limit is met by the API.
    async with rt.sessions() as session:
        for n in range(service.MAX_APPS):
            await service.create_app(
                session,
                rt,
                tenant.organization_id,
                service.AppSpec(name=f"app {n}", kind=AppKind.PUBLIC, scopes=("issue:read",)),
            )
        await session.commit()
    out = await create(gql, tenant.token, name="one too many", redirectUrl="http://xn--a/cb")
    assert out["__typename"] == "ValidationError" and out["field"] == "redirectUrl"
    out = await create(gql, tenant.token, name="one too many")
    assert out["__typename"] == "ValidationError"
    assert f"at most {service.MAX_APPS} apps" in out["message"]
