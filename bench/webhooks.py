"""Webhook deliveries end to end: Conduit (outbox -> job -> sender) vs a bare httpx loop, in one run.

Conduit's side emits `issue.created` events and counts deliveries until the receiver has them all:
the fan-out job, one delivery row and one first-attempt job per event (most of those settled by the
job ahead of them, which sends the endpoint's queued first attempts in order), the throttle, the signed POST, the attempt
log. The bare side then POSTs the very same bodies, signed the same way, with one httpx client, one
request at a time, to the same receiver: the ceiling for one endpoint, since Conduit sends one
endpoint's first attempts in order, one at a time. Latency is from the commit of the event to its
arrival at the receiver, one event at a time.

The receiver runs in its own process (uvicorn + Starlette), verifies each signature with the reference
`standardwebhooks` package and answers 204.

    .venv/bin/python bench/webhooks.py [--events 500] [--latency-samples 100] [--database-url URL]
    (SQLite in a temporary directory by default, with the embedded job runner)
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import secrets
import statistics
import tempfile
import time
from multiprocessing.queues import Queue
from pathlib import Path

import httpx
from common import free_port, pct, run_receiver, wait_listening
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import conduit.wiring  # noqa: F401 - the job kinds and event subscribers a server registers
from conduit.apps import service
from conduit.bootstrap import bootstrap
from conduit.db.base import utcnow
from conduit.db.migrate import upgrade_async
from conduit.db.models import AppKind, Delivery, Issue
from conduit.events.emit import emit
from conduit.events.resources import issue_resource
from conduit.jobs.config import JobsSettings
from conduit.jobs.service import start_jobs
from conduit.runtime import Runtime
from conduit.settings import Settings
from conduit.webhooks import signing


async def make_issue(session: AsyncSession, org: int, project: int) -> Issue:
    now = utcnow()
    issue = Issue(
        organization_id=org,
        project_id=project,
        fingerprint=secrets.token_hex(32),
        title="ZeroDivisionError: division by zero",
        culprit="app.billing.invoice in total",
        first_seen=now,
        last_seen=now,
        times_seen=1,
    )
    session.add(issue)
    await session.flush()
    return issue


async def drain(arrivals: Queue[tuple[str, float]], n: int, patience: float = 300) -> dict[str, float]:
    got: dict[str, float] = {}
    end = time.monotonic() + patience
    while len(got) < n:
        if time.monotonic() > end:
            raise RuntimeError(f"only {len(got)} of {n} deliveries arrived")
        try:
            msg_id, at = await asyncio.to_thread(arrivals.get, True, 0.5)
        except Exception:  # queue.Empty
            continue
        got.setdefault(msg_id, at)
    return got


async def emit_events(runtime: Runtime, org: int, project: int, n: int) -> float:
    async with runtime.sessions() as session:
        for _ in range(n):
            issue = await make_issue(session, org, project)
            emit(session, "issue.created", org, {"issue": issue_resource(issue)})
        await session.commit()
    return time.time()


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="conduit-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    settings = Settings(
        env="test",
        database_url=url,
        data_dir=tmp,
        secret_key="bench-secret-key-" + "x" * 32,
        allow_private_webhook_urls=True,
    )
    await upgrade_async(settings.database_url)
    runtime = Runtime.create(settings)
    async with runtime.sessions() as session:
        boot = await bootstrap(session, "bench", "backend", settings.public_url)
    port = free_port()
    spec = service.AppSpec(
        name="bench",
        kind=AppKind.INTERNAL,
        webhook_url=f"http://127.0.0.1:{port}/hook",
        events=("issue.created",),
        scopes=("issue:read",),
        rate_limit_per_second=1000,
        max_in_flight=100,
    )
    async with runtime.sessions() as session:
        made = await service.create_app(session, runtime, boot.organization_id, spec)
        await session.commit()
    arrivals: Queue[tuple[str, float]] = multiprocessing.get_context("spawn").Queue()
    receiver = multiprocessing.get_context("spawn").Process(
        target=run_receiver, args=(port, made.webhook_secret, arrivals), daemon=True
    )
    receiver.start()
    wait_listening(port)
    jobs = await start_jobs(runtime, JobsSettings(poll_interval_seconds=0.05))
    try:
        # Warm up connections and code paths.
        await emit_events(runtime, boot.organization_id, boot.project_id, 10)
        await drain(arrivals, 10)

        start = time.perf_counter()
        await emit_events(runtime, boot.organization_id, boot.project_id, args.events)
        await drain(arrivals, args.events)
        conduit_s = time.perf_counter() - start

        async with runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(Delivery.msg_id, Delivery.body).order_by(Delivery.id.desc()).limit(args.events)
                )
            ).all()
        async with httpx.AsyncClient() as client:
            start = time.perf_counter()
            for msg_id, body in rows:
                raw = body.encode()
                headers = {
                    "content-type": "application/json",
                    **signing.headers(msg_id, raw, [made.webhook_secret]),
                }
                r = await client.post(spec.webhook_url or "", content=raw, headers=headers)
                r.raise_for_status()
            bare_s = time.perf_counter() - start
        await drain(arrivals, len(rows))

        latencies: list[float] = []
        for _ in range(args.latency_samples):
            committed = await emit_events(runtime, boot.organization_id, boot.project_id, 1)
            (at,) = (await drain(arrivals, 1)).values()
            latencies.append((at - committed) * 1000)
    finally:
        await jobs.stop()
        receiver.terminate()
        await runtime.close()

    conduit_rate, bare_rate = args.events / conduit_s, len(rows) / bare_s
    print(f"database            {url.split(':')[0]}, embedded job runner, one endpoint")
    print(
        f"conduit             {args.events} deliveries in {conduit_s:.2f} s = {conduit_rate:,.0f} deliveries/s"
    )
    print(f"bare httpx loop     {len(rows)} POSTs in {bare_s:.2f} s = {bare_rate:,.0f} deliveries/s")
    print(f"ratio               conduit / bare = {conduit_rate / bare_rate:.2f}")
    print(
        f"commit -> webhook   p50 {statistics.median(latencies):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms "
        f"({len(latencies)} events, one at a time)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--database-url", default="")
    asyncio.run(main(parser.parse_args()))
