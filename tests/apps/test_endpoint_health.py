"""An endpoint's health over time: `endpoint.failing` to the owner after repeated failures, disabled with
`endpoint.disabled` after 5 days of failures only, the delivery log pruned after its retention, and
`sendTestEvent` reaching the receiver. Time is moved by back-dating rows, never waited out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select, update

from conduit.db.base import utcnow
from conduit.db.models import App, AttemptTrigger, Delivery, DeliveryAttempt, DeliveryStatus, OutboxRow
from conduit.events.catalog import EVENT_TYPES
from conduit.ids import decode_as
from conduit.runtime import Runtime
from conduit.webhooks import log
from conduit.webhooks.delivery import DISABLE_AFTER, FAILING_AFTER
from tests.apps.conftest import GQL, wait_for
from tests.apps.helpers import emit_issue, issue_app, name
from tests.apps.receiver import Receiver
from tests.conftest import Tenant

SEND_TEST = """
mutation($id: ID!, $type: String!) {
  sendTestEvent(appId: $id, type: $type) {
    __typename
    ... on SendTestEventPayload { delivery { id webhookId eventType } }
    ... on UserError { message }
  }
}"""
STATE = "query($id: ID!) { app(id: $id) { endpointState disabledReason } }"


async def _ops_app(gql: GQL, tenant: Tenant, receiver: Receiver) -> str:
    """An owner's internal app that listens to endpoint health, as an on-call tool would."""
    ep = name()
    ops = await gql.create_app(
        tenant.token,
        kind="INTERNAL",
        webhookUrl=receiver.url(ep),
        events=["endpoint.failing", "endpoint.disabled"],
        scopes=["app:read"],
    )
    receiver.endpoints[ep].secret = ops["webhookSecret"]
    return ep


def _about(receiver: Receiver, ep: str, event_type: str, app_id: str) -> list[dict[str, Any]]:
    bodies = [orjson.loads(h.body) for h in receiver.of(ep) if h.verified]
    return [b for b in bodies if b["type"] == event_type and b["data"]["endpoint"]["app_id"] == app_id]


async def _health_events(runtime: Runtime, organization_id: int, event_type: str, app_id: str) -> int:
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(OutboxRow).where(
                    OutboxRow.organization_id == organization_id, OutboxRow.kind == "events.publish"
                )
            )
        ).scalars()
        return sum(
            1
            for r in rows
            if r.payload.get("type") == event_type
            and r.payload.get("data", {}).get("endpoint", {}).get("app_id") == app_id
        )


async def test_repeated_failures_notify_the_owner_once(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    ops = await _ops_app(gql, tenant, receiver)
    ep = name()
    app = await gql.create_app(tenant.token, kind="INTERNAL", **issue_app(receiver.url(ep)))
    app_id = app["app"]["id"]
    receiver.endpoints[ep].secret, receiver.endpoints[ep].status = app["webhookSecret"], 500
    # Each event's first attempt fails: FAILING_AFTER failed attempts in a row, within seconds.
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id, FAILING_AFTER + 1)

    async def notified() -> bool:
        return bool(_about(receiver, ops, "endpoint.failing", app_id))

    await wait_for(notified, 30, "endpoint.failing at the owner's ops endpoint")
    (event,) = _about(receiver, ops, "endpoint.failing", app_id)
    data = event["data"]
    assert data["failed_attempts"] == FAILING_AFTER
    assert "HTTP 500" in data["last_error"] and receiver.url(ep) in data["last_error"]
    since = datetime.fromisoformat(data["failing_since"])
    assert datetime.fromisoformat(data["disable_at"]) - since == DISABLE_AFTER
    # The failing endpoint is not told about itself.
    assert not any(orjson.loads(h.body)["type"].startswith("endpoint.") for h in receiver.of(ep))

    async def all_failed_once() -> bool:
        return len({h.msg_id for h in receiver.of(ep)}) == FAILING_AFTER + 1

    await wait_for(all_failed_once, 30, "every first attempt")
    state = (await gql(tenant.token, STATE, {"id": app_id}))["app"]
    assert state == {"endpointState": "FAILING", "disabledReason": None}
    # Further failures do not repeat the notification.
    assert await _health_events(jobs_runtime, tenant.organization_id, "endpoint.failing", app_id) == 1


async def test_five_days_of_failures_disable_the_endpoint_visibly(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    ops = await _ops_app(gql, tenant, receiver)
    ep = name()
    app = await gql.create_app(tenant.token, kind="INTERNAL", **issue_app(receiver.url(ep)))
    app_id = app["app"]["id"]
    pk = decode_as(app_id, "App")
    receiver.endpoints[ep].secret, receiver.endpoints[ep].status = app["webhookSecret"], 503
    now = utcnow()

    async def failing_since(when: datetime) -> None:
        async with jobs_runtime.sessions() as session:
            await session.execute(
                update(App)
                .where(App.id == pk)
                .values(failing_since=when, consecutive_failures=40, failing_notified_at=when)
            )
            await session.commit()

    # Just short of 5 days: one more failure keeps the endpoint failing, not disabled.
    await failing_since(now - DISABLE_AFTER + timedelta(hours=1))
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id)
    await wait_for(lambda: _true(len(receiver.of(ep)) >= 1), 30, "a failed attempt")

    async def attempts_logged(n: int) -> bool:
        async with jobs_runtime.sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(DeliveryAttempt).where(DeliveryAttempt.app_id == pk)
            )
        return count == n

    await wait_for(lambda: attempts_logged(1), 30, "the attempt to be logged")
    assert (await gql(tenant.token, STATE, {"id": app_id}))["app"]["endpointState"] == "FAILING"

    # Past 5 days of failures only: the next failure disables it, and the owner hears of it.
    await failing_since(now - DISABLE_AFTER - timedelta(minutes=1))
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id)

    async def disabled_event() -> bool:
        return bool(_about(receiver, ops, "endpoint.disabled", app_id))

    await wait_for(disabled_event, 30, "endpoint.disabled at the owner's ops endpoint")
    (event,) = _about(receiver, ops, "endpoint.disabled", app_id)
    assert event["data"]["reason"] == "failing"
    state = (await gql(tenant.token, STATE, {"id": app_id}))["app"]
    assert state == {"endpointState": "DISABLED", "disabledReason": "failing"}
    async with jobs_runtime.sessions() as session:
        stored = await session.get(App, pk)
        assert stored is not None and stored.disabled_at is not None
    assert await _health_events(jobs_runtime, tenant.organization_id, "endpoint.disabled", app_id) == 1

    # Later events are kept as failed deliveries, not sent and not dropped.
    sent = len(receiver.of(ep))
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id)

    async def kept_as_failed() -> bool:
        async with jobs_runtime.sessions() as session:
            statuses = list(
                (await session.execute(select(Delivery.status).where(Delivery.app_id == pk))).scalars()
            )
        return len(statuses) == 3 and DeliveryStatus.PENDING not in statuses

    await wait_for(kept_as_failed, 30, "every delivery of the disabled endpoint to be settled")
    assert len(receiver.of(ep)) == sent


async def _true(value: bool) -> bool:
    return value


async def test_the_log_is_pruned_after_its_retention(rt: Runtime, gql: GQL, tenant: Tenant) -> None:
    app = await gql.create_app(tenant.token, kind="INTERNAL", **issue_app("http://127.0.0.1:9/hook"))
    pk = decode_as(app["app"]["id"], "App")
    now = utcnow()
    old = now - log.RETENTION - timedelta(hours=1)
    recent = now - log.RETENTION + timedelta(hours=1)

    async with rt.sessions() as session:

        def delivery(label: str, created: datetime, status: DeliveryStatus) -> Delivery:
            d = Delivery(
                app_id=pk,
                owner_organization_id=tenant.organization_id,
                organization_id=tenant.organization_id,
                event_type="issue.created",
                event_id=f"evt_prune_{label}_{pk}",
                msg_id=f"msg_prune_{label}_{pk}",
                body="{}",
                status=status,
                attempts=1,
                created_at=created,
            )
            session.add(d)
            return d

        made = {
            "old_done": delivery("old_done", old, DeliveryStatus.SUCCEEDED),
            "old_failed": delivery("old_failed", old, DeliveryStatus.FAILED),
            "old_pending": delivery("old_pending", old, DeliveryStatus.PENDING),
            "recent_done": delivery("recent_done", recent, DeliveryStatus.SUCCEEDED),
        }
        await session.flush()
        for d in made.values():
            session.add(
                DeliveryAttempt(
                    delivery_id=d.id,
                    app_id=pk,
                    number=1,
                    trigger=AttemptTrigger.SCHEDULED,
                    url="http://127.0.0.1:9/hook",
                    started_at=d.created_at,
                    duration_ms=3,
                    status_code=200,
                    outcome="success",
                )
            )
        await session.commit()
        ids = {label: d.id for label, d in made.items()}

    assert await log.prune(rt) >= 2

    async with rt.sessions() as session:
        left = set((await session.execute(select(Delivery.id).where(Delivery.app_id == pk))).scalars())
        attempts_left = set(
            (
                await session.execute(select(DeliveryAttempt.delivery_id).where(DeliveryAttempt.app_id == pk))
            ).scalars()
        )
    # Finished and older than the retention: gone with their attempts. Pending work is never pruned.
    assert left == {ids["old_pending"], ids["recent_done"]}
    assert attempts_left == left


async def test_send_test_event_reaches_the_receiver_verified(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    ep = name()
    app = await gql.create_app(tenant.token, kind="INTERNAL", **issue_app(receiver.url(ep)))
    receiver.endpoints[ep].secret = app["webhookSecret"]
    # A type the app does not subscribe to: a test event is sent on request, whatever the subscription.
    out = (await gql(tenant.token, SEND_TEST, {"id": app["app"]["id"], "type": "comment.created"}))[
        "sendTestEvent"
    ]
    assert out["__typename"] == "SendTestEventPayload", out
    webhook_id = out["delivery"]["webhookId"]

    async def arrived() -> bool:
        return any(h.msg_id == webhook_id for h in receiver.of(ep))

    await wait_for(arrived, 30, "the test event")
    (hit,) = [h for h in receiver.of(ep) if h.msg_id == webhook_id]
    assert hit.verified
    body = orjson.loads(hit.body)
    assert body["type"] == "comment.created"
    assert body["data"] == EVENT_TYPES["comment.created"].example
    assert body["id"] == body["id"].strip() and body["id"].startswith("evt_test_")

    async def succeeded() -> bool:
        async with jobs_runtime.sessions() as session:
            d = await session.scalar(select(Delivery).where(Delivery.msg_id == webhook_id))
        return d is not None and d.status is DeliveryStatus.SUCCEEDED and d.test

    await wait_for(succeeded, 30, "the test delivery to be logged as succeeded")

    bad = (await gql(tenant.token, SEND_TEST, {"id": app["app"]["id"], "type": "no.such"}))["sendTestEvent"]
    assert bad["__typename"] == "ValidationError" and "no.such" in bad["message"]
