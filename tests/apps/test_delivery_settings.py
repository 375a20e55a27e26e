"""An app's delivery settings (FIFO, maxInFlight, rate, timeout): set at creation, changed by its owner
only, bad values refused with the field at fault."""

from __future__ import annotations

from typing import Any

from tests.apps.conftest import GQL
from tests.conftest import Tenant

UPDATE = """
mutation($id: ID!, $input: UpdateAppDeliveryInput!) {
  updateAppDelivery(appId: $id, input: $input) {
    __typename
    ... on UpdateAppDeliveryPayload { app { fifo maxInFlight rateLimitPerSecond webhookTimeoutSeconds } }
    ... on ValidationError { field message }
    ... on UserError { message }
  }
}"""


async def update(gql: GQL, token: str, app_id: str, **fields: Any) -> dict[str, Any]:
    return dict((await gql(token, UPDATE, {"id": app_id, "input": fields}))["updateAppDelivery"])


async def test_fifo_is_off_by_default_and_changed_by_the_owner(
    gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    made = await gql.create_app(tenant.token, kind="INTERNAL", webhookUrl="http://127.0.0.1:9/hook")
    app_id = made["app"]["id"]
    out = await update(gql, tenant.token, app_id)
    assert out["app"] == {
        "fifo": False,
        "maxInFlight": 10,
        "rateLimitPerSecond": 10,
        "webhookTimeoutSeconds": 15.0,
    }
    out = await update(gql, tenant.token, app_id, fifo=True, maxInFlight=3)
    assert out["app"] == {
        "fifo": True,
        "maxInFlight": 3,
        "rateLimitPerSecond": 10,
        "webhookTimeoutSeconds": 15.0,
    }
    # Another organization cannot see the app, let alone change it.
    assert (await update(gql, tenant2.token, app_id, fifo=False))["__typename"] == "NotFoundError"
    # A token without app:write cannot change it either.
    narrow = (
        await gql(
            tenant.token,
            'mutation { createApiToken(input: {name: "ro", scopes: ["app:read"]}) '
            "{ ... on CreateApiTokenPayload { value } } }",
        )
    )["createApiToken"]["value"]
    assert (await update(gql, narrow, app_id, fifo=False))["__typename"] == "ForbiddenError"
    # Malformed and hostile ids find nothing.
    for bad in ("", "not-an-id", "App:1' OR 1=1 --", "x" * 10_000):
        assert (await update(gql, tenant.token, bad, fifo=False))["__typename"] == "NotFoundError"
    out = await update(gql, tenant.token, app_id)
    assert out["app"]["fifo"] is True


async def test_bad_delivery_settings_are_refused_with_the_field_at_fault(gql: GQL, tenant: Tenant) -> None:
    made = await gql.create_app(
        tenant.token, kind="INTERNAL", webhookUrl="http://127.0.0.1:9/hook", fifo=True
    )
    app_id = made["app"]["id"]
    for fields, field in (
        ({"maxInFlight": 0}, "maxInFlight"),
        ({"maxInFlight": 10**9}, "maxInFlight"),
        ({"rateLimitPerSecond": -1}, "rateLimitPerSecond"),
        ({"webhookTimeoutSeconds": 0.1}, "webhookTimeoutSeconds"),
        ({"webhookTimeoutSeconds": 1e9}, "webhookTimeoutSeconds"),
    ):
        out = await update(gql, tenant.token, app_id, **fields)
        assert (out["__typename"], out.get("field")) == ("ValidationError", field), (fields, out)
    # Nothing was changed by a refused update.
    out = await update(gql, tenant.token, app_id)
    assert out["app"] == {
        "fifo": True,
        "maxInFlight": 10,
        "rateLimitPerSecond": 10,
        "webhookTimeoutSeconds": 15.0,
    }
