"""Webhook deliveries under load: commit -> webhook latency while ingest runs at full speed, and one
endpoint's deliveries/s against a bare httpx loop, in one run.

The loaded case is what a user sees: real ingest requests (Sentry envelopes through the whole app, as
`conduit serve` answers them, with the embedded job runner in the same process) post new errors at
full speed, each a new issue, and one app is subscribed to `issue.created`. Latency runs from the
ingest request's 200 (sent once the event is committed) to the delivery's arrival at the receiver.

Throughput: a backlog of events emitted at once, sent to one endpoint (the app's `maxInFlight`
requests at a time), against the very same bodies, signed the same way, POSTed by a bare httpx client:
one request at a time (the ceiling of a sender that waits for each answer) and `maxInFlight` at a time.

The receiver runs in its own process (uvicorn + Starlette), verifies each signature with the reference
`standardwebhooks` package and answers 204.

    .venv/bin/python bench/webhooks.py [--issues 300] [--concurrency 8] [--events 500]
                                       [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import time
import uuid
from datetime import datetime
from multiprocessing.queues import Queue

import httpx
import orjson
from common import (
    bench_runtime,
    database_name,
    emit_new_issues,
    free_port,
    next_arrival,
    pct,
    receiver_process,
    run_receiver,
)
from sqlalchemy import func, select

import conduit.wiring  # noqa: F401 - the job kinds and event subscribers a server registers
from conduit.app import create_app
from conduit.apps import service
from conduit.bootstrap import BootstrapResult, bootstrap
from conduit.db.models import AppKind, Delivery, DeliveryAttempt, OutboxRow
from conduit.events.emit import PUBLISH_KIND
from conduit.events.publish import event_id_of
from conduit.jobs.config import JobsSettings
from conduit.jobs.service import start_jobs
from conduit.runtime import Runtime
from conduit.webhooks import payloads, signing

MAX_IN_FLIGHT = 10  # the default an app gets


def make_body(public_key: str, project_id: int, kind: str) -> bytes:
    """A gzipped Sentry envelope holding one error of type `kind`: a new issue per kind."""
    event_id = uuid.uuid4().hex
    frames = [
        {"module": f"app.layer{i}", "function": f"step{i}", "filename": f"app/layer{i}.py", "lineno": 10 + i}
        for i in range(10)
    ]
    event = {
        "event_id": event_id,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "exception": {
            "values": [{"type": kind, "value": "division by zero", "stacktrace": {"frames": frames}}]
        },
    }
    payload = orjson.dumps(event)
    header = {"event_id": event_id, "dsn": f"http://{public_key}@localhost/{project_id}"}
    item = {"type": "event", "length": len(payload)}
    return gzip.compress(b"\n".join([orjson.dumps(header), orjson.dumps(item), payload]) + b"\n")


async def collect(
    arrivals: Queue[tuple[str, float]], want: set[str], patience: float = 300
) -> dict[str, float]:
    """Arrival times of the deliveries in `want`, by webhook-id; waits until every one has come."""
    got: dict[str, float] = {}
    end = time.monotonic() + patience
    while not want <= got.keys():
        if time.monotonic() > end:
            raise RuntimeError(f"only {len(want & got.keys())} of {len(want)} deliveries arrived")
        arrived = await next_arrival(arrivals)
        if arrived is not None:
            got.setdefault(*arrived)
    return got


async def emit_backlog(runtime: Runtime, org: int, project: int, n: int) -> list[str]:
    """`n` new issues and their `issue.created`, in one transaction; returns the event ids."""
    return [event_id_of(row.id) for row in await emit_new_issues(runtime, org, project, n)]


async def where_the_time_goes(runtime: Runtime, arrived: dict[str, float]) -> str:
    """Medians of the stages of the loaded deliveries, from what the database recorded and the receiver
    saw: the event's row written -> its deliveries written (publishing), -> the attempt started
    (sending), -> the request arrived."""
    async with runtime.sessions() as session:
        found = (
            await session.execute(
                select(Delivery.event_id, Delivery.created_at, DeliveryAttempt.started_at, Delivery.msg_id)
                .join(
                    DeliveryAttempt,
                    (DeliveryAttempt.delivery_id == Delivery.id) & (DeliveryAttempt.number == 1),
                )
                .where(Delivery.msg_id.in_(list(arrived)))
            )
        ).all()
        row_ids = {int(e.removeprefix("evt_")): (d, a) for e, d, a, _ in found}
        started: dict[str, datetime] = {m: a for _, _, a, m in found}
        emitted = {
            i: at
            for i, at in await session.execute(
                select(OutboxRow.id, OutboxRow.created_at).where(OutboxRow.id.in_(row_ids))
            )
        }
        ran = (
            await session.execute(
                select(func.count()).where(OutboxRow.kind == PUBLISH_KIND, OutboxRow.attempts > 0)
            )
        ).scalar_one()
        published = (
            await session.execute(select(func.count()).where(OutboxRow.kind == PUBLISH_KIND))
        ).scalar_one()
        drains = (
            await session.execute(
                select(func.count()).where(OutboxRow.kind == "webhooks.deliver", OutboxRow.attempts > 0)
            )
        ).scalar_one()
    publishing = [(d - emitted[i]).total_seconds() * 1000 for i, (d, _) in row_ids.items()]
    sending = [(a - d).total_seconds() * 1000 for d, a in row_ids.values()]
    arriving = [(arrived[m] - a.timestamp()) * 1000 for m, a in started.items()]
    return (
        f"event -> deliveries written p50 {statistics.median(publishing):.0f} ms, "
        f"-> attempt started p50 {statistics.median(sending):.0f} ms, "
        f"-> arrived p50 {statistics.median(arriving):.0f} ms; "
        f"{published} events published by {ran} jobs, {drains} drain jobs ran"
    )


async def main(args: argparse.Namespace) -> None:
    async with bench_runtime(args.database) as runtime:
        await run(args, runtime)


async def run(args: argparse.Namespace, runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        boot = await bootstrap(session, "bench", "backend", runtime.settings.public_url)
    port = free_port()
    spec = service.AppSpec(
        name="bench",
        kind=AppKind.INTERNAL,
        webhook_url=f"http://127.0.0.1:{port}/hook",
        events=("issue.created",),
        scopes=("issue:read",),
        rate_limit_per_second=1000,
        max_in_flight=MAX_IN_FLIGHT,
    )
    async with runtime.sessions() as session:
        made = await service.create_app(session, runtime, boot.organization_id, spec)
        await session.commit()
    with receiver_process(run_receiver, port, made.webhook_secret) as (_, arrivals):
        await measure(args, runtime, boot, made, arrivals)


async def measure(
    args: argparse.Namespace,
    runtime: Runtime,
    boot: BootstrapResult,
    made: service.CreatedApp,
    arrivals: Queue[tuple[str, float]],
) -> None:
    org, project = boot.organization_id, boot.project_id
    app_id = made.app.id
    webhook_url = made.app.webhook_url or ""

    def msg_ids(event_ids: list[str]) -> set[str]:
        return {payloads.message_id(e, f"app:{app_id}") for e in event_ids}

    public_key = boot.dsn.split("://", 1)[1].split("@", 1)[0]
    headers = {
        "X-Sentry-Auth": f"Sentry sentry_key={public_key}, sentry_version=7",
        "Content-Encoding": "gzip",
    }
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)), base_url="http://bench"
    )
    jobs = await start_jobs(runtime, JobsSettings())
    try:
        # Warm up connections and code paths.
        await collect(arrivals, msg_ids(await emit_backlog(runtime, org, project, 20)))

        # The loaded case: new issues ingested at full speed, each waited for at the receiver.
        acked: dict[str, float] = {}  # the error's kind (its issue's title) -> when ingest answered 200
        kinds = [f"Bench{uuid.uuid4().hex[:12]}Error" for _ in range(args.issues)]
        queue = list(reversed(kinds))

        async def ingest_worker() -> None:
            while queue:
                kind = queue.pop()
                body = make_body(public_key, project, kind)
                r = await client.post(f"/api/{project}/envelope/", content=body, headers=headers)
                if r.status_code != 200:
                    raise RuntimeError(f"ingest answered {r.status_code}: {r.text}")
                acked[kind] = time.time()

        start = time.perf_counter()
        await asyncio.gather(*(ingest_worker() for _ in range(args.concurrency)))
        ingest_s = time.perf_counter() - start

        async def deliveries_by_kind() -> dict[str, str]:
            async with runtime.sessions() as session:
                rows = (
                    await session.execute(
                        select(Delivery.msg_id, Delivery.body).where(Delivery.event_type == "issue.created")
                    )
                ).all()
            out = {}
            for msg_id, body in rows:
                title = orjson.loads(body)["data"]["issue"]["title"]
                out[title.split(":", 1)[0]] = msg_id
            return out

        wanted: dict[str, str] = {}
        end = time.monotonic() + 120
        while len(wanted) < len(kinds) and time.monotonic() < end:
            found = await deliveries_by_kind()
            wanted = {k: found[k] for k in kinds if k in found}
            await asyncio.sleep(0.2)
        got = await collect(arrivals, set(wanted.values()))
        loaded_s = max(got.values()) - min(acked.values())
        latencies = [(got[wanted[k]] - acked[k]) * 1000 for k in kinds]

        stages = await where_the_time_goes(runtime, {wanted[k]: got[wanted[k]] for k in kinds})

        # Throughput: a backlog to one endpoint, then the same bodies from a bare client. The clock
        # starts once the backlog is committed; writing it (the issues too) is timed apart.
        start = time.perf_counter()
        backlog = msg_ids(await emit_backlog(runtime, org, project, args.events))
        committed = time.perf_counter()
        await collect(arrivals, backlog)
        conduit_s = time.perf_counter() - committed
        emit_s = committed - start
        async with runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(Delivery.msg_id, Delivery.body).order_by(Delivery.id.desc()).limit(args.events)
                )
            ).all()
        bare: dict[int, float] = {}
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as bare_client:
            for width in (1, MAX_IN_FLIGHT):
                todo = [(m, b) for m, b in rows]

                async def post(todo: list[tuple[str, str]]) -> None:
                    while todo:
                        msg_id, body = todo.pop()
                        raw = body.encode()
                        hdrs = {
                            "content-type": "application/json",
                            **signing.headers(msg_id, raw, [made.webhook_secret]),
                        }
                        (await bare_client.post(webhook_url, content=raw, headers=hdrs)).raise_for_status()

                start = time.perf_counter()
                await asyncio.gather(*(post(todo) for _ in range(width)))
                bare[width] = len(rows) / (time.perf_counter() - start)
        # The bare side's arrivals are not waited for: they are the same ids, already counted.
    finally:
        await client.aclose()
        await jobs.stop()

    conduit_rate = args.events / conduit_s
    with_emit = args.events / (conduit_s + emit_s)
    print(
        f"database            {database_name(runtime)}, embedded job runner, one endpoint (maxInFlight {MAX_IN_FLIGHT})"
    )
    print(
        f"loaded              {args.issues} new issues ingested at concurrency {args.concurrency}: "
        f"{args.issues / ingest_s:,.0f} events/s; all delivered {loaded_s:.2f} s after the first 200"
    )
    print(
        f"commit -> webhook   p50 {statistics.median(latencies):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms, "
        f"max {max(latencies):.1f} ms (while ingest runs)"
    )
    print(f"  of which          {stages}")
    print(
        f"conduit backlog     {args.events} deliveries in {conduit_s:.2f} s from its commit = "
        f"{conduit_rate:,.0f} deliveries/s ({with_emit:,.0f}/s counting the {emit_s:.2f} s to write it)"
    )
    print(
        f"bare httpx loop     one at a time: {bare[1]:,.0f} deliveries/s; {MAX_IN_FLIGHT} at a time: {bare[MAX_IN_FLIGHT]:,.0f}"
    )
    print(
        f"ratio               conduit / bare one at a time = {conduit_rate / bare[1]:.2f}; "
        f"conduit / bare {MAX_IN_FLIGHT} at a time = {conduit_rate / bare[MAX_IN_FLIGHT]:.2f}; "
        f"counting the write, conduit / bare one at a time = {with_emit / bare[1]:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--issues", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    asyncio.run(main(parser.parse_args()))
