"""Deliveries and subscriptions with PostgreSQL, Redis and several processes: a throttle shared by
workers, a worker killed mid-delivery, and `issue.created` reaching a subscriber of another API process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest
import websockets
from redis.asyncio import Redis

from conduit.jobs.config import JobsSettings
from conduit.runtime import Runtime
from tests.apps.conftest import GQL, api_side, arq_worker, distributed_runtime, wait_for
from tests.apps.helpers import emit_issue, issue_app, name
from tests.apps.receiver import Receiver
from tests.conftest import ConduitProcesses, Tenant, free_port
from tests.jobs.conftest import Harness

ROOT = Path(__file__).resolve().parents[2]
# Arrival is measured at the receiver, after the throttle's grant plus a connect and a send whose time
# varies with load; windows are shortened by that much so the check is about the throttle, not the host.
ARRIVAL_JITTER = 0.2


@pytest.fixture
async def dist(rt: Runtime, redis_url: str, redis: Redis) -> AsyncIterator[Runtime]:
    if rt.settings.is_sqlite:
        pytest.skip("several processes need PostgreSQL and Redis")
    distributed = distributed_runtime(rt, redis_url)
    yield distributed
    await distributed.close()


def env_for(runtime: Runtime, settings: JobsSettings, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CONDUIT_ENV="test",
        CONDUIT_DATABASE_URL=runtime.settings.database_url,
        CONDUIT_REDIS_URL=str(runtime.settings.redis_url),
        CONDUIT_SECRET_KEY=str(runtime.settings.secret_key),
        CONDUIT_DATA_DIR=str(tmp_path),
        CONDUIT_ALLOW_PRIVATE_WEBHOOK_URLS="true",
        CONDUIT_JOBS_MODULES=json.dumps(["tests.apps.fast_jobs"]),
        CONDUIT_JOBS_QUEUE_NAME=settings.queue_name,
        CONDUIT_JOBS_HANDOVER_LEASE_SECONDS=str(settings.handover_lease_seconds),
        CONDUIT_JOBS_LEASE_GRACE_SECONDS=str(settings.lease_grace_seconds),
        CONDUIT_JOBS_POLL_INTERVAL_SECONDS=str(settings.poll_interval_seconds),
        CONDUIT_JOBS_SWEEP_INTERVAL_SECONDS=str(settings.sweep_interval_seconds),
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


@pytest.fixture
def spawn(dist: Runtime, fast_jobs: JobsSettings, tmp_path: Path) -> Iterator[object]:
    procs = ConduitProcesses(tmp_path)

    def start(*args: str) -> subprocess.Popen[bytes]:
        return procs.start(args, env_for(dist, fast_jobs, tmp_path))

    yield start
    procs.stop_all()


async def test_an_endpoint_throttled_to_n_per_second_never_gets_more(
    dist: Runtime, fast_jobs: JobsSettings, gql: GQL, receiver: Receiver, tenant: Tenant
) -> None:
    rate, total = 4, 14
    ep = name()
    app = await gql.create_app(
        tenant.token, kind="INTERNAL", **issue_app(receiver.url(ep), rateLimitPerSecond=rate)
    )
    receiver.endpoints[ep].secret = app["webhookSecret"]
    # Two workers share the endpoint's throttle through Redis.
    async with api_side(dist, fast_jobs), arq_worker(dist, fast_jobs), arq_worker(dist, fast_jobs):
        await emit_issue(dist, tenant.organization_id, tenant.project_id, total)

        async def all_in() -> bool:
            return len({h.msg_id for h in receiver.of(ep)}) == total

        await wait_for(all_in, 60, f"{total} deliveries")
    times = sorted(h.at for h in receiver.of(ep))
    assert all(h.verified for h in receiver.of(ep))
    # A sliding window of `rate` per second means the k-th grant comes at least k // rate seconds after
    # the first: with no throttle all of them would arrive within a fraction of a second.
    assert times[-1] - times[0] >= (total - 1) // rate - ARRIVAL_JITTER
    for i, start in enumerate(times):
        in_window = [t for t in times[i:] if t - start < 1.0 - ARRIVAL_JITTER]
        assert len(in_window) <= rate, f"{len(in_window)} deliveries within one second from {start}"


async def test_a_worker_killed_mid_delivery_loses_nothing(
    dist: Runtime, fast_jobs: JobsSettings, gql: GQL, receiver: Receiver, tenant: Tenant, spawn
) -> None:
    total = 30
    ep = name()
    app = await gql.create_app(
        tenant.token, kind="INTERNAL", **issue_app(receiver.url(ep), rateLimitPerSecond=100)
    )
    receiver.endpoints[ep].secret = app["webhookSecret"]
    receiver.endpoints[ep].delay = 0.05
    async with api_side(dist, fast_jobs):
        first = spawn("worker")
        await emit_issue(dist, tenant.organization_id, tenant.project_id, total)

        async def some() -> bool:
            return len(receiver.of(ep)) >= 8

        await wait_for(some, 60, "the first worker to deliver")
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert len({h.msg_id for h in receiver.of(ep)}) < total, "finished before the kill"
        spawn("worker")

        async def everything() -> bool:
            return len({h.msg_id for h in receiver.of(ep)}) == total

        await wait_for(everything, 60, "every delivery after the kill")
    assert all(h.verified for h in receiver.of(ep))


async def test_subscriber_of_a_second_api_process_receives_issue_created(
    dist: Runtime,
    fast_jobs: JobsSettings,
    tenant: Tenant,
    tenant2: Tenant,
    redis: Redis,
    spawn,
) -> None:
    port = free_port()
    server = spawn("serve", "--port", str(port))
    url = f"ws://127.0.0.1:{port}/graphql"

    async def serving() -> bool:
        if server.poll() is not None:
            pytest.fail("conduit serve exited")
        try:
            async with websockets.connect(url, subprotocols=["graphql-transport-ws"]):  # type: ignore[list-item]
                return True
        except OSError:
            return False

    await wait_for(serving, 60, "the second API process")
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        # A browser cannot set headers on a WebSocket: the token goes in connection_init.
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {tenant.token}"}})
        )
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        query = "subscription { issueEvents { id type data } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))

        async def listening() -> bool:
            counts = await redis.pubsub_numsub("conduit:events")
            return any(n >= 1 for _, n in counts)

        await wait_for(listening, 30, "the second process to listen on Redis")
        async with api_side(dist, fast_jobs), arq_worker(dist, fast_jobs):
            rows = await emit_issue(dist, tenant2.organization_id, tenant2.project_id)  # another organization
            rows += await emit_issue(dist, tenant.organization_id, tenant.project_id)
            message = orjson.loads(await ws.recv())
            await Harness(dist, "arq").wait_finished(rows)  # stop the worker only once it is idle
    assert message["type"] == "next", message
    event = message["payload"]["data"]["issueEvents"]
    assert event["type"] == "issue.created"
    async with dist.sessions() as session:
        from sqlalchemy import select

        from conduit.db.models import Issue

        issue = (
            (
                await session.execute(
                    select(Issue)
                    .where(Issue.organization_id == tenant.organization_id)
                    .order_by(Issue.id.desc())
                )
            )
            .scalars()
            .first()
        )
    assert issue is not None and event["data"]["issue"]["title"] == issue.title
