"""One endpoint's deliveries sent many per job: each once, concurrently up to maxInFlight, or one at a
time in order (FIFO), a failure holding the line; events published in batches, idempotently."""

from __future__ import annotations

from sqlalchemy import select, update

from conduit.db.base import utcnow
from conduit.db.models import (
    App,
    AttemptTrigger,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    OutboxRow,
    OutboxState,
)
from conduit.events.emit import PUBLISH_KIND, publish_key
from conduit.ids import decode_as
from conduit.runtime import Runtime
from conduit.webhooks.delivery import Made, record_all
from conduit.webhooks.fanout import endpoint_key
from conduit.webhooks.schedule import Outcome
from conduit.webhooks.sender import AttemptResult
from tests.apps.conftest import GQL, wait_for
from tests.apps.helpers import emit_issue, issue_app, name
from tests.apps.receiver import Receiver
from tests.conftest import Tenant

APP = """query($id: ID!) { app(id: $id) { fifo maxInFlight } }"""


async def _deliveries(runtime: Runtime, app_pk: int) -> list[Delivery]:
    async with runtime.sessions() as session:
        rows = await session.execute(select(Delivery).where(Delivery.app_id == app_pk).order_by(Delivery.id))
        return list(rows.scalars())


async def _all_settled(runtime: Runtime, key: str) -> bool:
    async with runtime.sessions() as session:
        states = (await session.execute(select(OutboxRow.state).where(OutboxRow.key == key))).scalars()
        return all(s in (OutboxState.DONE, OutboxState.DEAD) for s in states)


async def test_deliveries_go_out_once_each_concurrently_up_to_max_in_flight(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    total, cap = 12, 3
    ep = name()
    app = await gql.create_app(
        tenant.token,
        kind="INTERNAL",
        **issue_app(receiver.url(ep), rateLimitPerSecond=100, maxInFlight=cap),
    )
    pk = decode_as(app["app"]["id"], "App")
    endpoint = receiver.endpoints[ep]
    endpoint.secret = app["webhookSecret"]
    # Long enough that requests overlap whenever more than one is sent at a time.
    endpoint.delay = 0.2
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id, total)

    async def all_in() -> bool:
        return len({h.msg_id for h in receiver.of(ep)}) == total

    await wait_for(all_in, 60, f"all {total} deliveries")
    await wait_for(lambda: _all_settled(jobs_runtime, endpoint_key(pk)), 30, "the endpoint's jobs to end")
    hits = receiver.of(ep)
    assert all(h.verified for h in hits)
    assert len(hits) == total  # each exactly once
    assert endpoint.max_in_flight == cap
    deliveries = await _deliveries(jobs_runtime, pk)
    assert [(d.status, d.attempts) for d in deliveries] == [(DeliveryStatus.SUCCEEDED, 1)] * total
    async with jobs_runtime.sessions() as session:
        ran = (
            await session.execute(
                select(OutboxRow.id).where(OutboxRow.key == endpoint_key(pk), OutboxRow.attempts > 0)
            )
        ).all()
    # Many deliveries per job: not one job per delivery.
    assert len(ran) < total


async def test_fifo_sends_one_at_a_time_in_order_and_a_failure_holds_the_line(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    total = 5
    ep = name()
    app = await gql.create_app(
        tenant.token,
        kind="INTERNAL",
        **issue_app(receiver.url(ep), rateLimitPerSecond=100, maxInFlight=10, fifo=True),
    )
    assert (await gql(tenant.token, APP, {"id": app["app"]["id"]}))["app"] == {
        "fifo": True,
        "maxInFlight": 10,
    }
    pk = decode_as(app["app"]["id"], "App")
    endpoint = receiver.endpoints[ep]
    endpoint.secret, endpoint.status = app["webhookSecret"], 500
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id, total)

    async def first_failed() -> bool:
        deliveries = await _deliveries(jobs_runtime, pk)
        return len(deliveries) == total and deliveries[0].attempts == 1

    await wait_for(first_failed, 30, "the first delivery's failed attempt")
    endpoint.status = 200  # the retry, about 5 s later, succeeds

    async def all_in() -> bool:
        return len({h.msg_id for h in receiver.of(ep)}) == total

    await wait_for(all_in, 60, f"all {total} deliveries after the retry")
    await wait_for(lambda: _all_settled(jobs_runtime, endpoint_key(pk)), 30, "the endpoint's jobs to end")
    deliveries = await _deliveries(jobs_runtime, pk)
    order = [d.msg_id for d in deliveries]
    # Nothing overtook the failed delivery: its retry came before any later one was sent.
    assert [h.msg_id for h in receiver.of(ep)] == [order[0], *order]
    assert all(h.verified for h in receiver.of(ep))
    assert endpoint.max_in_flight == 1
    assert [(d.status, d.attempts) for d in deliveries] == [(DeliveryStatus.SUCCEEDED, 2)] + [
        (DeliveryStatus.SUCCEEDED, 1)
    ] * (total - 1)


async def internal_app(gql: GQL, tenant: Tenant, receiver: Receiver) -> tuple[str, int]:
    """An internal app subscribed to new issues at an endpoint of its own: (endpoint, app id)."""
    ep = name()
    app = await gql.create_app(
        tenant.token, kind="INTERNAL", **issue_app(receiver.url(ep), rateLimitPerSecond=100)
    )
    receiver.endpoints[ep].secret = app["webhookSecret"]
    return ep, decode_as(app["app"]["id"], "App")


async def test_a_retried_batch_publish_delivers_nothing_twice(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    total = 20
    ep, pk = await internal_app(gql, tenant, receiver)
    rows = await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id, total)

    async def all_in() -> bool:
        return len({h.msg_id for h in receiver.of(ep)}) == total

    await wait_for(all_in, 60, f"all {total} deliveries")
    key = publish_key(tenant.organization_id)
    await wait_for(lambda: _all_settled(jobs_runtime, key), 30, "the publish jobs to end")
    async with jobs_runtime.sessions() as session:
        published = list((await session.execute(select(OutboxRow).where(OutboxRow.id.in_(rows)))).scalars())
        assert all(r.kind == PUBLISH_KIND and r.key == key for r in published)
        # Published in batches: rows taken by the job ahead of them never ran on their own.
        assert any(r.attempts == 0 for r in published)
        # Every one of them published again, as a batch job retried after its fan-out committed would.
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(rows))
            .values(state=OutboxState.PENDING, finished_at=None)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    await wait_for(lambda: _all_settled(jobs_runtime, key), 30, "the publish jobs to end again")
    await wait_for(lambda: _all_settled(jobs_runtime, endpoint_key(pk)), 30, "the endpoint's jobs to end")
    deliveries = await _deliveries(jobs_runtime, pk)
    assert len(deliveries) == total
    assert all(d.status is DeliveryStatus.SUCCEEDED and d.attempts == 1 for d in deliveries)
    hits = receiver.of(ep)
    assert len(hits) == total and all(h.verified for h in hits)
    async with jobs_runtime.sessions() as session:
        attempts = (
            await session.execute(select(DeliveryAttempt.id).where(DeliveryAttempt.app_id == pk))
        ).all()
    assert len(attempts) == total


async def test_attempts_recorded_again_are_logged_once(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    """A run that lost its lease after sending records its attempts after the run that sent them
    again: the attempt count guards the set-based recording as it does the one-by-one."""
    total = 3
    ep, pk = await internal_app(gql, tenant, receiver)
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id, total)

    async def all_in() -> bool:
        return len({h.msg_id for h in receiver.of(ep)}) == total

    await wait_for(all_in, 60, f"all {total} deliveries")
    await wait_for(lambda: _all_settled(jobs_runtime, endpoint_key(pk)), 30, "the endpoint's jobs to end")
    async with jobs_runtime.sessions() as session:
        endpoint = await session.get(App, pk)
    assert endpoint is not None
    ok = AttemptResult(Outcome.SUCCESS, 204, 1, utcnow())
    late = [Made(endpoint, d, 0, AttemptTrigger.SCHEDULED, ok) for d in await _deliveries(jobs_runtime, pk)]
    await record_all(jobs_runtime, late)
    async with jobs_runtime.sessions() as session:
        logged = (
            await session.execute(select(DeliveryAttempt.number).where(DeliveryAttempt.app_id == pk))
        ).scalars()
        assert sorted(logged) == [1] * total
    deliveries = await _deliveries(jobs_runtime, pk)
    assert [(d.status, d.attempts) for d in deliveries] == [(DeliveryStatus.SUCCEEDED, 1)] * total
