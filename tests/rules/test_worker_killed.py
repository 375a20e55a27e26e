"""A worker killed while a rule's ticket is being made, then restarted, makes no second ticket.

PostgreSQL and Redis, as `conduit worker` runs in production: this process writes rows and hands them
to Redis (the API side); a real `conduit worker` child process runs them. The tracker makes the ticket and
holds its answer to the create call (the sandbox's `hold` fault); the worker is killed with SIGKILL
meanwhile, so the answer is lost. The restarted worker's retry finds that ticket by its reference
instead of making another.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from conduit.app import create_app
from conduit.connectors import get_connectors
from conduit.connectors.registry import provider
from conduit.db.models import (
    FiringOutcome,
    Installation,
    OutboxRow,
    OutboxState,
    RuleFiring,
    RuleTrigger,
    TicketRequest,
)
from conduit.jobs.config import JobsSettings
from conduit.rules import service
from conduit.rules.definition import RuleSpec
from conduit.runtime import Runtime
from tests.conftest import ConduitProcesses, Tenant
from tests.ingest.helpers import event_envelope, sentry_auth
from tests.jobs.conftest import api_side, jobs_settings, redis, redis_url, wait_for
from tests.rules.helpers import error, unique
from tests.sync.conftest import Side, operator_settings

__all__ = ["jobs_settings", "redis", "redis_url"]

ROOT = Path(__file__).resolve().parents[2]
TRACKER = "shortcut"  # connected with an API token: the worker needs no OAuth client to act
CREATE_ROUTE = "stories.create"
# Long enough for the worker to be killed while the tracker holds its answer.
HELD_MS = 6000


@pytest.fixture
async def rt(
    runtime: Runtime, redis_url: str, redis: Redis, sides: dict[str, Side]
) -> AsyncIterator[Runtime]:
    if runtime.settings.is_sqlite:
        pytest.skip("the distributed runtime runs on PostgreSQL with Redis")
    settings = operator_settings(runtime.settings, sides, redis_url=redis_url)
    distributed = Runtime.create(settings)
    yield distributed
    await distributed.close()


@pytest.fixture
def spawn_worker(
    rt: Runtime, jobs_settings: JobsSettings, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    settings = rt.settings
    env = dict(os.environ)
    env.update(
        CONDUIT_ENV="test",
        CONDUIT_DATABASE_URL=settings.database_url,
        CONDUIT_REDIS_URL=str(settings.redis_url),
        CONDUIT_SECRET_KEY=str(settings.secret_key),
        CONDUIT_DATA_DIR=str(tmp_path),
        CONDUIT_ALLOW_PRIVATE_TRACKER_URLS="true",
        CONDUIT_TRACKER_CLIENTS=json.dumps([c.model_dump(mode="json") for c in settings.tracker_clients]),
        CONDUIT_JOBS_MODULES=json.dumps(jobs_settings.modules),
        CONDUIT_JOBS_QUEUE_NAME=jobs_settings.queue_name,
        CONDUIT_JOBS_HANDOVER_LEASE_SECONDS=str(jobs_settings.handover_lease_seconds),
        CONDUIT_JOBS_LEASE_GRACE_SECONDS=str(jobs_settings.lease_grace_seconds),
        CONDUIT_JOBS_POLL_INTERVAL_SECONDS=str(jobs_settings.poll_interval_seconds),
        CONDUIT_JOBS_SWEEP_INTERVAL_SECONDS=str(jobs_settings.sweep_interval_seconds),
        PYTHONPATH=str(ROOT),
    )
    procs = ConduitProcesses(tmp_path)
    yield lambda: procs.start(["worker"], env, name="worker")
    procs.stop_all()


async def connect(rt: Runtime, tenant: Tenant, side: Side) -> int:
    """The tracker connected with a token it issued, as `connectTracker` does."""
    assert provider(side.key).auth_mode == "api_token"
    async with rt.sessions() as session:
        row = Installation(
            organization_id=tenant.organization_id, provider=side.key, base_url=side.url, config={}
        )
        session.add(row)
        await session.commit()
    connectors = get_connectors(rt)
    token = await side.api_token()
    await connectors.keep_token(row.id, token, await connectors.check_token(row, token))
    return row.id


async def stories_named(side: Side, title: str) -> list[dict[str, Any]]:
    state = await side.control("GET", "/state")
    return [s for s in state["stories"] if s["name"] == title and not s.get("deleted")]


async def test_a_worker_killed_mid_create_and_restarted_makes_one_ticket(
    rt: Runtime,
    tenant: Tenant,
    sides: dict[str, Side],
    jobs_settings: JobsSettings,
    spawn_worker: Callable[[], subprocess.Popen[bytes]],
) -> None:
    side = sides[TRACKER]
    installation_id = await connect(rt, tenant, side)
    title = unique("Killed")
    async with rt.sessions() as session:
        rule = await service.create(
            rt,
            session,
            tenant.organization_id,
            tenant.project_id,
            RuleSpec(
                name="Every new error",
                trigger=RuleTrigger.NEW_ISSUE,
                installation_id=installation_id,
                target=side.scope,
                title_template=title,
            ),
        )
        assert rule is not None
        await session.commit()
    await side.fault(kind="hold", match=CREATE_ROUTE, ms=HELD_MS, count=1)
    try:
        async with api_side(rt, jobs_settings):
            first = spawn_worker()
            app = create_app(runtime=rt)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client:
                reply = await client.post(
                    f"/api/{tenant.project_id}/envelope/",
                    content=event_envelope(error(title)),
                    headers=sentry_auth(tenant.public_key),
                )
                assert reply.status_code == 200, reply.text

            async def made() -> bool:
                # The tracker made the ticket and holds its answer: the worker is still waiting for it.
                return len(await stories_named(side, title)) == 1

            await wait_for(made, 60, "the worker's create call to make the ticket")
            first.send_signal(signal.SIGKILL)
            first.wait()

            # The answer leaves for a worker that is gone.
            async def answered() -> bool:
                calls = await side.control("GET", "/calls", params={"limit": 0})
                return int(calls["by_route"].get(CREATE_ROUTE, 0)) >= 1

            await wait_for(answered, 30, "the tracker to send its held answer")
            async with rt.sessions() as session:
                firing = (
                    await session.execute(select(RuleFiring).where(RuleFiring.rule_id == rule.id))
                ).scalar_one()
                assert firing.outcome is FiringOutcome.PENDING, "the killed worker settled the firing"

            spawn_worker()

            async def settled() -> bool:
                async with rt.sessions() as session:
                    outcome = await session.scalar(
                        select(RuleFiring.outcome).where(RuleFiring.rule_id == rule.id)
                    )
                    busy = await session.scalar(
                        select(OutboxRow.id)
                        .where(
                            OutboxRow.organization_id == tenant.organization_id,
                            OutboxRow.state.in_(
                                (OutboxState.PENDING, OutboxState.QUEUED, OutboxState.RUNNING)
                            ),
                        )
                        .limit(1)
                    )
                return outcome is not FiringOutcome.PENDING and busy is None

            # The killed run's lease (the create job's timeout) runs out before it is run again.
            await wait_for(settled, 240, "the restarted worker to finish the ticket")
    finally:
        await side.clear_faults()

    assert len(await stories_named(side, title)) == 1
    async with rt.sessions() as session:
        firings = list(
            (await session.execute(select(RuleFiring).where(RuleFiring.rule_id == rule.id))).scalars()
        )
        requests = list(
            (
                await session.execute(
                    select(TicketRequest).where(TicketRequest.installation_id == installation_id)
                )
            ).scalars()
        )
    assert [f.outcome for f in firings] == [FiringOutcome.CREATED]
    assert len(requests) == 1 and requests[0].external_issue_id == firings[0].external_issue_id
