"""The grant code in `installation.created` is sealed wherever it rests (outbox row, delivery row) and
reaches the app in clear, on the first attempt and on redeliveries while it can still be exchanged;
after that a redelivery carries it redacted."""

from __future__ import annotations

import base64

import httpx
import orjson
from sqlalchemy import select

from conduit.crypto import SecretBox
from conduit.db.models import Delivery, OutboxRow
from conduit.events import sealed
from conduit.runtime import Runtime
from tests.apps.conftest import GQL, wait_for
from tests.apps.helpers import name
from tests.apps.receiver import Receiver
from tests.conftest import Tenant

DELIVERIES = "query($id: ID!) { app(id: $id) { deliveries { nodes { id eventType } } } }"
REDELIVER = "mutation($id: ID!) { redeliver(deliveryId: $id) { __typename } }"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def test_the_grant_code_is_sealed_at_rest_and_opened_only_while_usable(
    jobs_runtime: Runtime,
    gql: GQL,
    http: httpx.AsyncClient,
    receiver: Receiver,
    tenant: Tenant,
    tenant2: Tenant,
) -> None:
    ep = name()
    app = await gql.create_app(tenant.token, webhookUrl=receiver.url(ep))
    receiver.endpoints[ep].secret = app["webhookSecret"]
    install = await gql.install(tenant2.token, app["app"]["id"])
    code = install["code"]

    async def hits(n: int) -> None:
        async def arrived() -> bool:
            return len(receiver.of(ep)) >= n

        await wait_for(arrived, 30, f"{n} installation.created deliveries")

    await hits(1)
    first = receiver.of(ep)[0]
    assert first.verified and orjson.loads(first.body)["data"]["code"] == code

    async with jobs_runtime.sessions() as session:
        rows = (
            await session.execute(
                select(OutboxRow).where(OutboxRow.organization_id == tenant2.organization_id)
            )
        ).scalars()
        published = [r for r in rows if (r.payload or {}).get("type") == "installation.created"]
        stored = (
            (await session.execute(select(Delivery).where(Delivery.event_type == "installation.created")))
            .scalars()
            .all()
        )
    assert published and stored
    for payload in [orjson.dumps(r.payload).decode() for r in published] + [d.body for d in stored]:
        assert code not in payload
    assert all(sealed.is_sealed(r.payload["data"]["code"]) for r in published)

    nodes = (await gql(tenant.token, DELIVERIES, {"id": app["app"]["id"]}))["app"]["deliveries"]["nodes"]
    delivery_id = next(n["id"] for n in nodes if n["eventType"] == "installation.created")
    # Redelivered while the code is unused: the app gets it again.
    assert (await gql(tenant.token, REDELIVER, {"id": delivery_id}))["redeliver"]["__typename"] == (
        "RedeliverPayload"
    )
    await hits(2)
    assert orjson.loads(receiver.of(ep)[1].body)["data"]["code"] == code

    exchanged = await http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code},
        headers=basic(app["app"]["clientId"], app["clientSecret"]),
    )
    assert exchanged.status_code == 200, exchanged.text
    # Once used, a redelivery carries no code: presenting it again would revoke the app's tokens.
    await gql(tenant.token, REDELIVER, {"id": delivery_id})
    await hits(3)
    third = receiver.of(ep)[2]
    assert third.verified and third.msg_id == first.msg_id
    assert orjson.loads(third.body)["data"]["code"] == sealed.REDACTED


def test_people_see_sealed_fields_redacted() -> None:
    box = SecretBox("k" * 40)
    data = {"app_installation": {"id": "x"}, "code": sealed.seal(box, "gc_secret")}
    assert sealed.redact("installation.created", data)["code"] == sealed.REDACTED
    assert sealed.redact("issue.created", {"code": "kept"}) == {"code": "kept"}
    body = orjson.dumps({"type": "installation.created", "data": data}).decode()
    shown = sealed.shown("installation.created", body)
    assert "gc_secret" not in shown and orjson.loads(shown)["data"]["code"] == sealed.REDACTED
