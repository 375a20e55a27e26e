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
import multiprocessing
import statistics
import tempfile
import time
import uuid
from multiprocessing.queues import Queue
from pathlib import Path

import httpx
import orjson
from common import database, free_port, pct, run_receiver, wait_listening
from sqlalchemy import func, select

import conduit.wiring  # noqa: F401 - the job kinds and event subscribers a server registers
from conduit.app import create_app
from conduit.apps import service
from conduit.bootstrap import bootstrap
from conduit.db.base import utcnow
from conduit.db.models import AppKind, Delivery, DeliveryAttempt, Issue, OutboxRow
from conduit.events.emit import PUBLISH_KIND, emit
from conduit.events.publish import event_id_of
from conduit.events.resources import issue_resource
from conduit.jobs.config import JobsSettings
from conduit.jobs.service import start_jobs
from conduit.runtime import Runtime
from conduit.settings import Settings
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
        try:
            msg_id, at = await asyncio.to_thread(arrivals.get, True, 0.5)
        except Exception:  # queue.Empty
            continue
        got.setdefault(msg_id, at)
    return got


async def emit_backlog(runtime: Runtime, org: int, project: int, n: int) -> list[str]:
    """`n` new issues and their `issue.created`, in one transaction; returns the event ids."""
    rows = []
    async with runtime.sessions() as session:
        for _ in range(n):
            now = utcnow()
            issue = Issue(
                organization_id=org,
                project_id=project,
                fingerprint=uuid.uuid4().hex * 2,
                title="ZeroDivisionError: division by zero",
                culprit="app.billing.invoice in total",
                first_seen=now,
                last_seen=now,
                times_seen=1,
            )
            session.add(issue)
            await session.flush()
            rows.append(emit(session, "issue.created", org, {"issue": issue_resource(issue)}))
        await session.commit()
    return [event_id_of(r.id) for r in rows]


async def where_the_time_goes(runtime: Runtime, msg_ids: list[str]) -> str:
    """Medians of the stages of the loaded deliveries, from what the database recorded: the event's
    row written -> its deliveries written (publishing), -> the attempt started (sending)."""
    async with runtime.sessions() as session:
        found = (
            await session.execute(
                select(Delivery.event_id, Delivery.created_at, DeliveryAttempt.started_at)
                .join(
                    DeliveryAttempt,
                    (DeliveryAttempt.delivery_id == Delivery.id) & (DeliveryAttempt.number == 1),
                )
                .where(Delivery.msg_id.in_(msg_ids))
            )
        ).all()
        row_ids = {int(e.removeprefix("evt_")): (d, a) for e, d, a in found}
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
    return (
        f"event -> deliveries written p50 {statistics.median(publishing):.0f} ms, "
        f"-> attempt started p50 {statistics.median(sending):.0f} ms; "
        f"{published} events published by {ran} jobs, {drains} drain jobs ran"
    )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="conduit-bench-") as tmp:
        async with database(args.database, Path(tmp)) as url:
            await run(args, url, Path(tmp))


async def run(args: argparse.Namespace, url: str, tmp: Path) -> None:
    settings = Settings(
        env="test",
        database_url=url,
        data_dir=tmp,
        secret_key="bench-secret-key-" + "x" * 32,
        allow_private_webhook_urls=True,
    )
    runtime = Runtime.create(settings)
    async with runtime.sessions() as session:
        boot = await bootstrap(session, "bench", "backend", settings.public_url)
    org, project = boot.organization_id, boot.project_id
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
        made = await service.create_app(session, runtime, org, spec)
        await session.commit()
    app_id = made.app.id

    def msg_ids(event_ids: list[str]) -> set[str]:
        return {payloads.message_id(e, f"app:{app_id}") for e in event_ids}

    arrivals: Queue[tuple[str, float]] = multiprocessing.get_context("spawn").Queue()
    receiver = multiprocessing.get_context("spawn").Process(
        target=run_receiver, args=(port, made.webhook_secret, arrivals), daemon=True
    )
    receiver.start()
    wait_listening(port)
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

        stages = await where_the_time_goes(runtime, list(wanted.values()))

        # Throughput: a backlog to one endpoint, then the same bodies from a bare client.
        start = time.perf_counter()
        await collect(arrivals, msg_ids(await emit_backlog(runtime, org, project, args.events)))
        conduit_s = time.perf_counter() - start
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
                        (
                            await bare_client.post(spec.webhook_url or "", content=raw, headers=hdrs)
                        ).raise_for_status()

                start = time.perf_counter()
                await asyncio.gather(*(post(todo) for _ in range(width)))
                bare[width] = len(rows) / (time.perf_counter() - start)
        # The bare side's arrivals are not waited for: they are the same ids, already counted.
    finally:
        await client.aclose()
        await jobs.stop()
        receiver.terminate()
        await runtime.close()

    conduit_rate = args.events / conduit_s
    print(
        f"database            {url.split(':')[0].split('+')[0]}, embedded job runner, one endpoint (maxInFlight {MAX_IN_FLIGHT})"
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
        f"conduit backlog     {args.events} deliveries in {conduit_s:.2f} s = {conduit_rate:,.0f} deliveries/s"
    )
    print(
        f"bare httpx loop     one at a time: {bare[1]:,.0f} deliveries/s; {MAX_IN_FLIGHT} at a time: {bare[MAX_IN_FLIGHT]:,.0f}"
    )
    print(
        f"ratio               conduit / bare one at a time = {conduit_rate / bare[1]:.2f}; "
        f"conduit / bare {MAX_IN_FLIGHT} at a time = {conduit_rate / bare[MAX_IN_FLIGHT]:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--issues", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    asyncio.run(main(parser.parse_args()))
