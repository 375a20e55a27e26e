"""One delivery read by its id (the console's delivery page): by the app's owner only."""

from __future__ import annotations

from conduit import ids
from tests.apps.conftest import GQL
from tests.apps.receiver import Receiver
from tests.conftest import Tenant

SEND = """mutation($a: ID!) { sendTestEvent(appId: $a, type: "issue.created") {
  __typename ... on SendTestEventPayload { delivery { id } } } }"""
DELIVERY = "query($id: ID!) { delivery(id: $id) { id eventType test webhookId attempts { number } } }"


async def test_a_delivery_is_read_by_the_apps_owner_only(
    gql: GQL, tenant: Tenant, tenant2: Tenant, receiver: Receiver
) -> None:
    made = await gql.create_app(
        tenant.token, kind="INTERNAL", events=["issue.created"], webhookUrl=receiver.url("read")
    )
    sent = (await gql(tenant.token, SEND, {"a": made["app"]["id"]}))["sendTestEvent"]
    delivery = sent["delivery"]["id"]
    got = (await gql(tenant.token, DELIVERY, {"id": delivery}))["delivery"]
    assert got["id"] == delivery and got["eventType"] == "issue.created" and got["test"] is True

    assert (await gql(tenant2.token, DELIVERY, {"id": delivery}))["delivery"] is None
    for hostile in (
        "",
        "x" * 5000,
        ids.encode("Issue", 1),
        ids.encode("Delivery", 10**12),
        "RGVsaXZlcnk6LTE",
    ):
        assert (await gql(tenant.token, DELIVERY, {"id": hostile}))["delivery"] is None, hostile
