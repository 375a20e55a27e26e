"""Ingest throughput: Conduit's envelope endpoint vs a bare Starlette endpoint, same database, one run.

Both apps run in this process behind httpx's ASGI transport (no sockets, so the figure is the server's
own cost). The bare endpoint is the floor of what storing an event costs: gunzip, parse the event JSON,
insert one Event row into a pre-made issue, commit. Conduit's endpoint adds what a real event pays for:
DSN key check, limited incremental decompression, envelope parsing, normalization, grouping, the issue
upsert and two outbox rows; it answers each request once its event is committed, in a batch with the
events that arrived meanwhile (a group commit), where the bare endpoint commits each event alone. A third figure is the CPU-only pipeline (decode, parse, normalize,
fingerprint) without HTTP or database. Rounds alternate so drift hits both sides equally.

    .venv/bin/python bench/ingest.py                       # SQLite
    .venv/bin/python bench/ingest.py --database postgresql # a throwaway PostgreSQL database
    .venv/bin/python bench/ingest.py --database both       # SQLite, then PostgreSQL; a table of both
    .venv/bin/python bench/ingest.py --rules               # 20 active rules vs none, jobs running
    .venv/bin/python bench/ingest.py --rules --database both  # the same on SQLite, then PostgreSQL

`--rules` measures what automation rules cost ingest: two projects of one organization, one with 20
enabled rules (every trigger, filters, no tracker), one with none, posted to in alternating rounds
while the embedded job runner publishes events and evaluates rules in the same process, as `conduit
serve` does. Rules are evaluated by jobs, never on the request path, so the two rates should be within
noise of each other; it also prints how many evaluations the events cost (one per issue per burst).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import orjson
from common import database
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conduit.app import create_app
from conduit.bootstrap import bootstrap
from conduit.db.base import utcnow
from conduit.db.models import Event, Issue, OutboxRow, OutboxState, Project, ProjectKey, Rule, RuleTrigger
from conduit.ingest import envelope, grouping
from conduit.ingest.decompress import decode
from conduit.ingest.jsonbody import parse_object
from conduit.ingest.normalize import normalize
from conduit.jobs.config import JobsSettings
from conduit.jobs.service import start_jobs
from conduit.runtime import Runtime
from conduit.settings import Settings


def make_body(public_key: str, project_id: int, kind: str = "ZeroDivisionError") -> bytes:
    event_id = uuid.uuid4().hex
    frames = [
        {
            "module": f"app.layer{i}",
            "function": f"step{i}",
            "filename": f"app/layer{i}.py",
            "lineno": 10 + i,
            "in_app": i > 3,
            "context_line": "    return compute(x)",
            "vars": {"x": "42", "user": "{'id': 7}"},
        }
        for i in range(15)
    ]
    event = {
        "event_id": event_id,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "release": "shop@1.4.2",
        "environment": "production",
        "tags": {"region": "eu-west-1", "customer": "acme"},
        "exception": {
            "values": [{"type": kind, "value": "division by zero", "stacktrace": {"frames": frames}}]
        },
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}, "os": {"name": "Linux"}},
        "breadcrumbs": {"values": [{"category": "http", "message": f"GET /api/{i}"} for i in range(20)]},
    }
    payload = orjson.dumps(event)
    header = {"event_id": event_id, "dsn": f"http://{public_key}@localhost/{project_id}", "sent_at": "now"}
    body = b"\n".join(
        [orjson.dumps(header), orjson.dumps({"type": "event", "length": len(payload)}), payload]
    )
    return gzip.compress(body + b"\n")


def bare_app(runtime: Runtime, organization_id: int, project_id: int, issue_id: int) -> Starlette:
    async def store(request: Request) -> JSONResponse:
        body = gzip.decompress(await request.body())
        _, _, payload = body.split(b"\n", 2)
        event = orjson.loads(payload)
        now = utcnow()
        async with runtime.sessions() as session:
            session.add(
                Event(
                    organization_id=organization_id,
                    project_id=project_id,
                    issue_id=issue_id,
                    event_id=event["event_id"],
                    timestamp=now,
                    received_at=now,
                    message="",
                    tags=event.get("tags", {}),
                    data={"exception": event["exception"]},
                )
            )
            await session.commit()
        return JSONResponse({"id": event["event_id"]})

    return Starlette(routes=[Route("/api/{project_id}/envelope/", store, methods=["POST"])])


async def rate(post: Callable[[bytes], Awaitable[int]], bodies: list[bytes], concurrency: int) -> float:
    queue = iter(bodies)

    async def worker() -> None:
        for body in queue:
            status = await post(body)
            if status != 200:
                raise RuntimeError(f"request failed with {status}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(bodies) / (time.perf_counter() - start)


def pipeline_rate(bodies: list[bytes]) -> float:
    start = time.perf_counter()
    for body in bodies:
        env = envelope.parse(decode(body, "gzip", 10 * 1024 * 1024))
        event = normalize(parse_object(env.items[0].payload, "event payload"), utcnow())
        grouping.fingerprint(event)
    return len(bodies) / (time.perf_counter() - start)


async def main(args: argparse.Namespace) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        async with database(args.database, Path(tmp)) as url:
            settings = Settings(env="test", database_url=url, data_dir=Path(tmp), secret_key="b" * 40)
            runtime = Runtime.create(settings)
            async with runtime.sessions() as session:
                boot = await bootstrap(session, "bench", "bench", "http://localhost")
                now = utcnow()
                issue = Issue(
                    organization_id=boot.organization_id,
                    project_id=boot.project_id,
                    fingerprint="0" * 64,
                    title="bare",
                    first_seen=now,
                    last_seen=now,
                )
                session.add(issue)
                await session.commit()
            public_key = boot.dsn.split("://", 1)[1].split("@", 1)[0]
            url_path = f"/api/{boot.project_id}/envelope/"
            headers = {
                "X-Sentry-Auth": f"Sentry sentry_key={public_key}, sentry_version=7",
                "Content-Encoding": "gzip",
            }
            apps = {
                "conduit": create_app(runtime=runtime),
                "bare": bare_app(runtime, boot.organization_id, boot.project_id, issue.id),
            }
            clients = {
                name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
                for name, app in apps.items()
            }

            def poster(client: httpx.AsyncClient) -> Callable[[bytes], Awaitable[int]]:
                async def post(body: bytes) -> int:
                    return (await client.post(url_path, content=body, headers=headers)).status_code

                return post

            # Warm both paths (connection pools, caches) before measuring.
            for client in clients.values():
                await rate(poster(client), [make_body(public_key, boot.project_id) for _ in range(50)], 4)
            results: dict[str, list[float]] = {"conduit": [], "bare": []}
            # CPU time of this process per event (the app and the client, which is the same on both
            # sides): on a loaded machine it moves far less than the rates do.
            cpu_ms: dict[str, list[float]] = {"conduit": [], "bare": []}
            for _ in range(args.rounds):
                for name, client in clients.items():
                    bodies = [make_body(public_key, boot.project_id) for _ in range(args.events)]
                    started = time.process_time()
                    results[name].append(await rate(poster(client), bodies, args.concurrency))
                    cpu_ms[name].append((time.process_time() - started) * 1000 / args.events)
            cpu = pipeline_rate([make_body(public_key, boot.project_id) for _ in range(args.events)])
            for client in clients.values():
                await client.aclose()
            await runtime.close()

    conduit, bare = max(results["conduit"]), max(results["bare"])
    print(
        f"database: {args.database}, {args.events} events x {args.rounds} rounds, concurrency {args.concurrency}"
    )
    print(f"conduit envelope endpoint : {conduit:8.0f} events/s (best round)")
    print(f"bare starlette insert     : {bare:8.0f} events/s (best round)")
    print(f"ratio conduit / bare      : {conduit / bare:8.2f}")
    print(f"cpu-only pipeline         : {cpu:8.0f} events/s (decode, parse, normalize, fingerprint)")
    pairs = zip(results["conduit"], results["bare"], strict=True)
    print(f"rounds conduit/bare       : {', '.join(f'{c:.0f}/{b:.0f}' for c, b in pairs)}")
    # Each round beside the one of the other side that ran right after it, so drift in the machine's
    # load between rounds moves both figures of a pair alike.
    paired = sorted(c / b for c, b in zip(results["conduit"], results["bare"], strict=True))
    print(
        f"paired round ratios       : {paired[0]:.2f}-{paired[-1]:.2f} (median {paired[len(paired) // 2]:.2f})"
    )
    print(
        f"cpu ms/event, this process: conduit {min(cpu_ms['conduit']):.2f}, bare {min(cpu_ms['bare']):.2f} (best round)"
    )
    return conduit, bare


RULES = 20
KINDS = 40  # distinct errors in the traffic: a few dozen issues, each seen many times


def bench_rules(organization_id: int, project_id: int) -> list[Rule]:
    """20 enabled rules of every trigger, with filters that match most of the traffic; no tracker."""
    triggers = [
        (RuleTrigger.NEW_ISSUE, None, None),
        (RuleTrigger.REGRESSION, None, None),
        (RuleTrigger.EVENT_RATE, 50, 3600),
        (RuleTrigger.EVENT_RATE, 1000, 600),
        (RuleTrigger.EVENTS_SINCE_TICKET, 100, None),
    ]
    rules = []
    for n in range(RULES):
        trigger, threshold, window = triggers[n % len(triggers)]
        rules.append(
            Rule(
                organization_id=organization_id,
                project_id=project_id,
                name=f"bench rule {n}",
                trigger=trigger,
                threshold=threshold,
                window_seconds=window,
                filters={
                    "levels": ["error"],
                    "environments": ["production"],
                    "text": "Error" if n % 2 else None,
                },
                max_tickets_per_hour=20,
            )
        )
    return rules


async def unfinished(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.state.in_((OutboxState.PENDING, OutboxState.QUEUED, OutboxState.RUNNING)))
            )
            or 0
        )


async def drained(runtime: Runtime) -> float:
    """Seconds until the jobs the round caused are done, so no round pays for the one before."""
    start = time.perf_counter()
    while await unfinished(runtime):  # noqa: ASYNC110 - the outbox is in the database, polled
        await asyncio.sleep(0.05)
    return time.perf_counter() - start


async def count_kind(runtime: Runtime, kind: str) -> int:
    async with runtime.sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.kind == kind))
            or 0
        )


async def rules_main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with database(args.database, Path(tmp)) as url:
            settings = Settings(env="test", database_url=url, data_dir=Path(tmp), secret_key="b" * 40)
            runtime = Runtime.create(settings)
            async with runtime.sessions() as session:
                boot = await bootstrap(session, "bench", "ruled", "http://localhost")
                plain = Project(organization_id=boot.organization_id, name="plain", slug="plain")
                session.add(plain)
                await session.flush()
                plain_key = ProjectKey(
                    organization_id=boot.organization_id, project_id=plain.id, public_key="f" * 32
                )
                session.add(plain_key)
                session.add_all(bench_rules(boot.organization_id, boot.project_id))
                await session.commit()
            ruled_key = boot.dsn.split("://", 1)[1].split("@", 1)[0]
            targets = {"20 rules": (boot.project_id, ruled_key), "no rules": (plain.id, plain_key.public_key)}
            jobs = await start_jobs(runtime, JobsSettings(poll_interval_seconds=0.2))
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(runtime=runtime)), base_url="http://bench"
            )

            def poster(project_id: int, key: str) -> Callable[[bytes], Awaitable[int]]:
                headers = {
                    "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
                    "Content-Encoding": "gzip",
                }

                async def post(body: bytes) -> int:
                    return (
                        await client.post(f"/api/{project_id}/envelope/", content=body, headers=headers)
                    ).status_code

                return post

            def bodies(project_id: int, key: str, n: int) -> list[bytes]:
                return [make_body(key, project_id, f"Error{i % KINDS}") for i in range(n)]

            for project_id, key in targets.values():
                await rate(poster(project_id, key), bodies(project_id, key, 50), 4)
            results: dict[str, list[float]] = {name: [] for name in targets}
            drains: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (project_id, key) in targets.items():
                    results[name].append(
                        await rate(
                            poster(project_id, key), bodies(project_id, key, args.events), args.concurrency
                        )
                    )
                    drains[name].append(await drained(runtime))
            evaluations = await count_kind(runtime, "rules.evaluate")
            await client.aclose()
            await jobs.stop()
            await runtime.close()
    ruled, none = max(results["20 rules"]), max(results["no rules"])
    total = args.events * args.rounds
    print(
        f"database: {args.database}, {args.events} events x {args.rounds} rounds per side, concurrency {args.concurrency}, {KINDS} distinct errors"
    )
    print(
        f"ingest, 20 active rules : {ruled:8.0f} events/s (best round; all rounds {', '.join(f'{r:.0f}' for r in results['20 rules'])})"
    )
    print(
        f"ingest, no rules        : {none:8.0f} events/s (best round; all rounds {', '.join(f'{r:.0f}' for r in results['no rules'])})"
    )
    print(f"ratio rules / none      : {ruled / none:8.2f}")
    print(
        f"jobs drained after each round: 20 rules {max(drains['20 rules']):.1f}s, no rules {max(drains['no rules']):.1f}s (worst round)"
    )
    print(f"rule evaluations        : {evaluations} for {total} events ({evaluations / total:.2f} per event)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql", "both"],
        default="sqlite",
        help="both: SQLite, then PostgreSQL, in one run",
    )
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rules", action="store_true", help="20 active rules vs none, with jobs running")
    parsed = parser.parse_args()
    table: dict[str, tuple[float, float]] = {}
    for kind in ["sqlite", "postgresql"] if parsed.database == "both" else [parsed.database]:
        one = argparse.Namespace(**{**vars(parsed), "database": kind})
        if parsed.rules:
            asyncio.run(rules_main(one))
        else:
            table[kind] = asyncio.run(main(one))
    if len(table) > 1:
        print("\n| database | conduit events/s | bare events/s | ratio |\n|---|---|---|---|")
        for kind, (conduit, bare) in table.items():
            print(f"| {kind} | {conduit:.0f} | {bare:.0f} | {conduit / bare:.2f} |")
