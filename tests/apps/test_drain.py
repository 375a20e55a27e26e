"""One endpoint's first attempts sent several per job: in event order, each once, every job settled."""

from __future__ import annotations

import threading

from sqlalchemy import select

from conduit.db.models import Delivery, DeliveryStatus, OutboxRow, OutboxState
from conduit.ids import decode_as
from conduit.runtime import Runtime
from conduit.webhooks.fanout import endpoint_key
from tests.apps.conftest import GQL, wait_for
from tests.apps.helpers import emit_issue, issue_app, name
from tests.apps.receiver import Receiver
from tests.conftest import Tenant


async def test_queued_first_attempts_go_out_in_order_once_with_their_jobs_settled(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    total = 12
    ep = name()
    app = await gql.create_app(
        tenant.token, kind="INTERNAL", **issue_app(receiver.url(ep), rateLimitPerSecond=100)
    )
    pk = decode_as(app["app"]["id"], "App")
    endpoint = receiver.endpoints[ep]
    endpoint.secret = app["webhookSecret"]
    # The first request is held until every delivery is queued behind it, so its job finds them.
    endpoint.hold = threading.Event()
    await emit_issue(jobs_runtime, tenant.organization_id, tenant.project_id, total)

    async def queued() -> bool:
        async with jobs_runtime.sessions() as session:
            n = len(list((await session.execute(select(Delivery.id).where(Delivery.app_id == pk))).scalars()))
        return n == total and len(receiver.of(ep)) == 1

    await wait_for(queued, 30, f"{total} deliveries queued behind the first")
    endpoint.hold.set()
    endpoint.hold = None

    async def all_in() -> bool:
        return len({h.msg_id for h in receiver.of(ep)}) == total

    await wait_for(all_in, 30, f"all {total} deliveries")
    async with jobs_runtime.sessions() as session:

        async def rows() -> list[OutboxRow]:
            return list(
                (await session.execute(select(OutboxRow).where(OutboxRow.key == endpoint_key(pk)))).scalars()
            )

        async def settled() -> bool:
            session.expire_all()
            return all(r.state is OutboxState.DONE for r in await rows())

        await wait_for(settled, 30, "every first-attempt job to be settled")
        keyed = await rows()
        # Every attempt is recorded in the transaction that settles its job, or before the job ends.
        deliveries = (
            await session.execute(select(Delivery).where(Delivery.app_id == pk).order_by(Delivery.id))
        ).scalars()
        by_id = {d.id: (d.msg_id, d.status, d.attempts) for d in deliveries}
        # The order of the endpoint's queue: its first-attempt jobs by id.
        sent_in_order = [by_id[r.payload["args"][0]] for r in sorted(keyed, key=lambda r: r.id)]
    hits = receiver.of(ep)
    assert all(h.verified for h in hits)
    # Sent in the order they were queued, each exactly once.
    assert [h.msg_id for h in hits] == [m for m, _, _ in sent_in_order]
    assert all(s is DeliveryStatus.SUCCEEDED and n == 1 for _, s, n in sent_in_order)
    assert len(keyed) == total
    # Jobs whose attempt the job ahead of them made were settled without ever being run.
    assert any(r.attempts == 0 for r in keyed)
