"""Webhook delivery end to end: signed (verified by `standardwebhooks`), logged, retried by hand,
disabled on 410 and recovered, isolated per endpoint."""

from __future__ import annotations

import threading
from datetime import timedelta

import orjson
from sqlalchemy import select
from standardwebhooks import Webhook

from conduit.db.base import utcnow
from conduit.db.models import OutboxRow
from conduit.runtime import Runtime
from tests.apps.conftest import GQL, wait_for
from tests.apps.helpers import emit_issue, issue_app, name
from tests.apps.receiver import Receiver
from tests.conftest import Tenant

LOG = """
query($id: ID!, $filter: DeliveryFilter, $first: Int, $after: String) {
  app(id: $id) {
    endpointState disabledReason
    health(windowSeconds: 3600) { deliveries succeeded failed successRate p50LatencyMs p95LatencyMs lastError }
    deliveries(filter: $filter, first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id eventType eventId webhookId outcome attemptCount lastStatusCode
              attempts { number trigger statusCode outcome durationMs responseExcerpt error nextAttemptAt } }
    }
  }
}"""
REDELIVER = "mutation($id: ID!) { redeliver(deliveryId: $id) { __typename } }"


async def test_every_delivery_verifies_and_is_logged(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant, tenant2: Tenant
) -> None:
    ep = name()
    app = await gql.create_app(tenant.token, **issue_app(receiver.url(ep)))
    receiver.endpoints[ep].secret = app["webhookSecret"]
    install = await gql.install(tenant2.token, app["app"]["id"])
    await emit_issue(jobs_runtime, tenant2.organization_id, tenant2.project_id, 3)

    async def arrived() -> bool:
        return len({h.msg_id for h in receiver.of(ep)}) == 4

    await wait_for(arrived, 30, "the installation and 3 issue deliveries")

    async def logged() -> bool:
        # An attempt is recorded once its answer is in: just after the receiver has it.
        data = await gql(tenant.token, LOG, {"id": app["app"]["id"]})
        return bool(data["app"]["health"]["succeeded"] == 4)

    await wait_for(logged, 30, "the 4 attempts in the log")
    hits = receiver.of(ep)
    assert all(h.verified for h in hits)
    bodies = [orjson.loads(h.body) for h in hits]
    created = next(b for b in bodies if b["type"] == "installation.created")
    assert created["data"]["code"] == install["code"]
    issues = [b for b in bodies if b["type"] == "issue.created"]
    assert len(issues) == 3 and all(b["installation_id"] == install["installation"]["id"] for b in issues)
    assert all(b["id"].startswith("evt_") and b["version"] == 1 for b in issues)
    # The outbox recorded ids; receivers get the issue itself, as it was when the event was published.
    assert all(b["data"]["issue"]["title"].startswith("E: ") for b in issues)
    assert all(b["data"]["issue"]["status"] == "unresolved" for b in issues)

    # The owner's log, filtered and paged; the installing organization sees its own copy.
    page = (
        await gql(
            tenant.token,
            LOG,
            {"id": app["app"]["id"], "filter": {"eventTypes": ["issue.created"]}, "first": 2},
        )
    )["app"]
    assert page["deliveries"]["pageInfo"]["hasNextPage"] is True
    rest = (
        await gql(
            tenant.token,
            LOG,
            {
                "id": app["app"]["id"],
                "filter": {"eventTypes": ["issue.created"]},
                "after": page["deliveries"]["pageInfo"]["endCursor"],
            },
        )
    )["app"]
    nodes = page["deliveries"]["nodes"] + rest["deliveries"]["nodes"]
    assert len({n["id"] for n in nodes}) == 3
    assert {n["webhookId"] for n in nodes} == {
        h.msg_id for h in hits if orjson.loads(h.body)["type"] == "issue.created"
    }
    first = nodes[0]["attempts"][0]
    assert (first["number"], first["trigger"], first["statusCode"], first["outcome"]) == (
        1,
        "SCHEDULED",
        200,
        "success",
    )
    failed = (await gql(tenant.token, LOG, {"id": app["app"]["id"], "filter": {"outcome": "FAILED"}}))["app"]
    assert failed["deliveries"]["nodes"] == []
    health = page["health"]
    assert (health["deliveries"], health["succeeded"], health["successRate"]) == (4, 4, 1.0)
    assert health["p50LatencyMs"] is not None and health["p95LatencyMs"] >= health["p50LatencyMs"]
    installed = await gql(
        tenant2.token, """query { appInstallations { id deliveries { nodes { eventType } } } }"""
    )
    mine = next(i for i in installed["appInstallations"] if i["id"] == install["installation"]["id"])
    assert (
        sorted(n["eventType"] for n in mine["deliveries"]["nodes"])
        == ["installation.created"] + ["issue.created"] * 3
    )
    # Another organization cannot read the app's log.
    assert (await gql(tenant2.token, LOG, {"id": app["app"]["id"]}))["app"] is None


async def test_rotation_signs_with_both_keys(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    ep = name()
    app = await gql.create_app(tenant.token, kind="INTERNAL", **issue_app(receiver.url(ep)))
    old = app["webhookSecret"]
    receiver.endpoints[ep].secret = old
    rotated = await gql(
        tenant.token,
        "mutation($id: ID!) { rotateWebhookSecret(appId: $id) { ... on RotateWebhookSecretPayload { webhookSecret } } }",
        {"id": app["app"]["id"]},
    )
    new = rotated["rotateWebhookSecret"]["webhookSecret"]
    assert new.startswith("whsec_") and new != old
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id)
    await wait_for(lambda: _async_true(len(receiver.of(ep)) >= 1), 30, "a delivery")
    hit = receiver.of(ep)[0]
    assert hit.verified  # by the receiver, which still holds the old key
    assert len(hit.headers["webhook-signature"].split()) == 2
    Webhook(new).verify(hit.body, hit.headers, json_parse=False)  # and by one that already switched


async def _async_true(value: bool) -> bool:
    return value


async def _first_delivery(gql: GQL, tenant: Tenant, app_id: str) -> str:
    data = await gql(tenant.token, LOG, {"id": app_id})
    return str(data["app"]["deliveries"]["nodes"][0]["id"])


async def test_failures_are_logged_410_disables_and_recover_resends(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    ep = name()
    app = await gql.create_app(tenant.token, kind="INTERNAL", **issue_app(receiver.url(ep)))
    endpoint = receiver.endpoints[ep]
    endpoint.secret, endpoint.status = app["webhookSecret"], 500
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id)

    async def logged_failure() -> bool:
        data = await gql(tenant.token, LOG, {"id": app["app"]["id"]})
        nodes = data["app"]["deliveries"]["nodes"]
        return bool(nodes) and nodes[0]["attemptCount"] >= 1

    await wait_for(logged_failure, 30, "the failed attempt in the log")
    data = (await gql(tenant.token, LOG, {"id": app["app"]["id"]}))["app"]
    delivery = data["deliveries"]["nodes"][0]
    attempt = delivery["attempts"][0]
    assert (attempt["statusCode"], attempt["outcome"], attempt["error"]) == (500, "retry", "HTTP 500")
    assert attempt["responseExcerpt"] == "nope" and attempt["nextAttemptAt"] is not None
    assert delivery["outcome"] == "PENDING" and data["endpointState"] == "FAILING"

    endpoint.status = 410  # the receiver removed the endpoint
    assert (await gql(tenant.token, REDELIVER, {"id": delivery["id"]}))["redeliver"][
        "__typename"
    ] == "RedeliverPayload"

    async def disabled() -> bool:
        return (await gql(tenant.token, LOG, {"id": app["app"]["id"]}))["app"]["endpointState"] == "DISABLED"

    await wait_for(disabled, 30, "the endpoint to be disabled")
    hits = receiver.of(ep)
    assert len({h.msg_id for h in hits}) == 1 and all(h.verified for h in hits)  # same webhook-id each time
    async with jobs_runtime.sessions() as session:
        kinds = [
            r.payload["type"]
            for r in (
                await session.execute(
                    select(OutboxRow).where(OutboxRow.organization_id == tenant.organization_id)
                )
            ).scalars()
            if r.kind == "events.publish"
        ]
    assert "endpoint.disabled" in kinds  # the owner hears of it: never disabled silently

    # While disabled, new events are kept as failed deliveries, not dropped.
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id)

    async def kept() -> bool:
        d = (await gql(tenant.token, LOG, {"id": app["app"]["id"], "filter": {"outcome": "FAILED"}}))["app"]
        return len(d["deliveries"]["nodes"]) == 2

    await wait_for(kept, 30, "the event during the outage to be kept")
    endpoint.status = 200
    out = await gql(
        tenant.token,
        "mutation($id: ID!, $since: DateTime!) { recoverEndpoint(appId: $id, since: $since) { ... on RecoverEndpointPayload { resent } } }",
        {"id": app["app"]["id"], "since": (utcnow() - timedelta(hours=1)).isoformat()},
    )
    assert out["recoverEndpoint"]["resent"] == 2
    ok = [h for h in receiver.of(ep) if h.verified]

    async def resent() -> bool:
        data = await gql(tenant.token, LOG, {"id": app["app"]["id"], "filter": {"outcome": "SUCCEEDED"}})
        return len(data["app"]["deliveries"]["nodes"]) == 2

    await wait_for(resent, 30, "both failed deliveries to be re-sent")
    assert len({h.msg_id for h in receiver.of(ep)}) == 2 and len(receiver.of(ep)) > len(ok)


async def test_a_redelivery_asked_for_while_the_first_attempt_is_in_flight_is_made(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    ep = name()
    app = await gql.create_app(tenant.token, kind="INTERNAL", **issue_app(receiver.url(ep)))
    endpoint = receiver.endpoints[ep]
    endpoint.secret = app["webhookSecret"]
    # The first attempt's answer is held: its outcome is recorded only after the redelivery is asked for.
    endpoint.hold = threading.Event()
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id)

    async def sent(n: int) -> bool:
        return len(receiver.of(ep)) >= n

    await wait_for(lambda: sent(1), 30, "the first attempt")
    delivery_id = await _first_delivery(gql, tenant, app["app"]["id"])
    assert (await gql(tenant.token, REDELIVER, {"id": delivery_id}))["redeliver"][
        "__typename"
    ] == "RedeliverPayload"
    endpoint.hold.set()

    async def both_logged() -> bool:
        nodes = (await gql(tenant.token, LOG, {"id": app["app"]["id"]}))["app"]["deliveries"]["nodes"]
        return [(a["number"], a["trigger"]) for a in nodes[0]["attempts"]] == [
            (1, "SCHEDULED"),
            (2, "MANUAL"),
        ]

    await wait_for(both_logged, 30, "the first attempt and the redelivery in the log")
    hits = receiver.of(ep)
    assert len(hits) == 2 and hits[0].msg_id == hits[1].msg_id and all(h.verified for h in hits)


async def test_a_slow_endpoint_does_not_delay_another(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    slow, fast = name(), name()
    # One request at a time to the slow endpoint, so its first one, held open, is all it gets meanwhile.
    slow_app = await gql.create_app(
        tenant.token,
        kind="INTERNAL",
        **issue_app(receiver.url(slow), webhookTimeoutSeconds=30, maxInFlight=1),
    )
    fast_app = await gql.create_app(tenant.token, kind="INTERNAL", **issue_app(receiver.url(fast)))
    receiver.endpoints[slow].secret = slow_app["webhookSecret"]
    receiver.endpoints[slow].hold = threading.Event()
    receiver.endpoints[fast].secret = fast_app["webhookSecret"]
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id, 5)

    async def fast_done() -> bool:
        return len({h.msg_id for h in receiver.of(fast)}) == 5 and len(receiver.of(slow)) >= 1

    await wait_for(fast_done, 30, "the fast endpoint's 5 deliveries, the slow one's first held open")
    # All of them arrived while the slow endpoint still held its first request open.
    assert not receiver.endpoints[slow].hold.is_set()  # type: ignore[union-attr]
    assert len(receiver.of(slow)) == 1
    receiver.endpoints[slow].hold.set()  # type: ignore[union-attr]

    async def slow_done() -> bool:
        return len({h.msg_id for h in receiver.of(slow)}) == 5

    await wait_for(slow_done, 30, "the slow endpoint to catch up")
