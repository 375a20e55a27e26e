"""Fifty endpoints, some slow, one down: the healthy ones' throughput and latency, beside a run with only
the healthy ones, in one run.

Two organizations get the same stream of `issue.created` events (`--events` at `--rate` per second,
committed in small transactions as ingest would). The first has only fast endpoints (`--fast`, 45 by
default); the second has the same number of fast endpoints plus `--slow` ones that answer after one
second and one whose port refuses connections: 50 in all. Each endpoint is its own app (concurrent
delivery, the default `maxInFlight` of 10). The figures are for the fast endpoints only: deliveries
per second until the last of them arrived, and commit -> arrival latency.

The receiver runs in its own process (uvicorn + Starlette), verifies each signature with the reference
`standardwebhooks` package and answers 204 (the slow paths after sleeping a second).

    .venv/bin/python bench/webhooks_fleet.py [--events 60] [--rate 20] [--fast 45] [--slow 4]
                                             [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue

from common import (
    bench_runtime,
    database_name,
    emit_new_issues,
    free_port,
    next_arrival,
    pct,
    receiver_process,
)

import conduit.wiring  # noqa: F401 - the job kinds and event subscribers a server registers
from conduit.apps import service
from conduit.bootstrap import bootstrap
from conduit.db.models import AppKind
from conduit.events.publish import event_id_of
from conduit.jobs.config import JobsSettings
from conduit.jobs.service import start_jobs
from conduit.runtime import Runtime
from conduit.webhooks import payloads

SLOW_SECONDS = 1.0


def run_fleet_receiver(port: int, secrets: dict[str, str], arrivals: Queue[tuple[str, float]]) -> None:
    """Every endpoint at /{name}, verified with its own secret; names starting `slow` answer in a second."""
    import uvicorn
    from standardwebhooks import Webhook, WebhookVerificationError
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    hooks = {name: Webhook(secret) for name, secret in secrets.items()}

    async def receive(request: Request) -> Response:
        name = request.path_params["name"]
        hook = hooks.get(name)
        if hook is None:
            return Response(status_code=404)
        try:
            hook.verify(await request.body(), dict(request.headers), json_parse=False)
        except WebhookVerificationError:
            return Response(status_code=400)
        if name.startswith("slow"):
            await asyncio.sleep(SLOW_SECONDS)
        arrivals.put((request.headers["webhook-id"], time.time()))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/{name}", receive, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@dataclass
class Fleet:
    organization_id: int
    project_id: int
    fast: list[int]  # app ids


@dataclass
class Result:
    deliveries: int
    seconds: float
    latencies: list[float]

    def line(self, label: str) -> str:
        return (
            f"{label:<34} {self.deliveries / self.seconds:8,.0f} deliveries/s   "
            f"p50 {statistics.median(self.latencies):7.1f} ms   p99 {pct(self.latencies, 0.99):7.1f} ms"
        )


async def make_fleet(
    runtime: Runtime, name: str, base: str, fast: int, slow: int, down_url: str | None
) -> tuple[Fleet, dict[str, str]]:
    async with runtime.sessions() as session:
        boot = await bootstrap(session, name, "backend", runtime.settings.public_url)
    urls = [(f"fast-{name}-{i}", f"{base}/fast-{name}-{i}") for i in range(fast)]
    urls += [(f"slow-{name}-{i}", f"{base}/slow-{name}-{i}") for i in range(slow)]
    if down_url:
        urls.append((f"down-{name}", down_url))
    secrets: dict[str, str] = {}
    fast_ids: list[int] = []
    async with runtime.sessions() as session:
        for path, url in urls:
            spec = service.AppSpec(
                name=path,
                kind=AppKind.INTERNAL,
                webhook_url=url,
                events=("issue.created",),
                scopes=("issue:read",),
                rate_limit_per_second=1000,
                webhook_timeout=5.0,
            )
            made = await service.create_app(session, runtime, boot.organization_id, spec)
            secrets[path] = made.webhook_secret
            if path.startswith("fast"):
                fast_ids.append(made.app.id)
        await session.commit()
    return Fleet(boot.organization_id, boot.project_id, fast_ids), secrets


async def stream(runtime: Runtime, fleet: Fleet, events: int, rate: float) -> dict[str, float]:
    """Emit `events` new issues at `rate` per second, a few per transaction; the commit time of each
    fast endpoint's delivery, by webhook-id."""
    committed: dict[str, float] = {}
    per_tx = max(1, round(rate / 20))
    start = time.monotonic()
    sent = 0
    while sent < events:
        rows = await emit_new_issues(
            runtime, fleet.organization_id, fleet.project_id, min(per_tx, events - sent)
        )
        at = time.time()
        for row in rows:
            for app_id in fleet.fast:
                committed[payloads.message_id(event_id_of(row.id), f"app:{app_id}")] = at
        sent += len(rows)
        # Paced by the clock, so a slow transaction does not slow the stream down.
        await asyncio.sleep(max(0.0, start + sent / rate - time.monotonic()))
    return committed


async def measure(
    runtime: Runtime,
    fleet: Fleet,
    arrivals: Queue[tuple[str, float]],
    args: argparse.Namespace,
    receiver: multiprocessing.process.BaseProcess,
) -> Result:
    collected: dict[str, float] = {}
    committed_task = asyncio.create_task(stream(runtime, fleet, args.events, args.rate))
    want = args.events * len(fleet.fast)
    end = time.monotonic() + 600
    committed: dict[str, float] | None = None
    while committed is None or not committed.keys() <= collected.keys():
        if time.monotonic() > end or not receiver.is_alive():
            raise RuntimeError(
                f"only {len(collected)} of {want} fast deliveries arrived (receiver exit code {receiver.exitcode})"
            )
        if committed is None and committed_task.done():
            committed = committed_task.result()
        arrived = await next_arrival(arrivals, 0.2)
        if arrived is not None:
            collected.setdefault(*arrived)
    ours = {m: collected[m] for m in committed}
    first = min(committed.values())
    return Result(len(ours), max(ours.values()) - first, [(ours[m] - committed[m]) * 1000 for m in ours])


async def main(args: argparse.Namespace) -> None:
    async with bench_runtime(args.database) as runtime:
        await run(args, runtime)


async def run(args: argparse.Namespace, runtime: Runtime) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    down = f"http://127.0.0.1:{free_port()}/down"  # nothing listens there: connection refused
    healthy, healthy_secrets = await make_fleet(runtime, "healthy", base, args.fast, 0, None)
    mixed, mixed_secrets = await make_fleet(runtime, "mixed", base, args.fast, args.slow, down)
    secrets = {**healthy_secrets, **mixed_secrets}
    with receiver_process(run_fleet_receiver, port, secrets) as (receiver, arrivals):
        jobs = await start_jobs(runtime, JobsSettings())
        try:
            # Warm up connections and code paths on the healthy fleet.
            warm_up = argparse.Namespace(events=5, rate=args.rate)
            await measure(runtime, healthy, arrivals, warm_up, receiver)
            only = await measure(runtime, healthy, arrivals, args, receiver)
            beside = await measure(runtime, mixed, arrivals, args, receiver)
        finally:
            await jobs.stop()
    total = args.fast + args.slow + 1
    print(
        f"database: {database_name(runtime)}, embedded job runner; {args.events} issue.created at "
        f"{args.rate:g}/s to every endpoint; figures for the {args.fast} fast endpoints"
    )
    print(only.line(f"{args.fast} fast endpoints alone"))
    print(beside.line(f"beside {args.slow} slow (1 s) and 1 down ({total})"))
    ratio = (beside.deliveries / beside.seconds) / (only.deliveries / only.seconds)
    print(
        f"ratio beside / alone: throughput {ratio:.2f}, p50 latency "
        f"{statistics.median(beside.latencies) / statistics.median(only.latencies):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--fast", type=int, default=45)
    parser.add_argument("--slow", type=int, default=4)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    asyncio.run(main(parser.parse_args()))
