"""Ingest and GraphQL throughput of `conduit serve --workers N` on PostgreSQL, for 1 and 2 processes.

Each configuration is a real `conduit serve --workers N` child process with Redis (which more than one
worker needs) and one `conduit worker` beside it, as deployed, on a throwaway PostgreSQL database and an
emptied Redis database of its own, so that no configuration inherits another's tables or queue. The
load comes from client processes of this script (so they do not share the servers' GIL): gzip'd Sentry
envelopes of 40 distinct errors at a fixed concurrency, then the 50-issue page query. Figures are
requests answered 2xx per second; configurations alternate for `--rounds` rounds, and each figure is
given as the best round and the range of all of them; the ratio is of best rounds, against one worker.
On a 2-core machine the load generator competes with the servers, so two workers cannot double the
rate: the ratio says how much of the second core the second process turns into throughput.

The worker matters: the API processes hand every commit's outbox rows to Redis, and an organization's
event rows share one publishing key, so with nothing running them the first row stays queued and the
rest pile up behind it, each of them walked by every dispatcher's claim on every commit. That turns the
outbox backlog into database CPU that grows with the run (and with the number of dispatchers), which
is what measured two workers slower than one when the configurations ran in turn on one database
without a worker.

    .venv/bin/python bench/workers.py [--seconds 8] [--concurrency 16] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
from common import database, free_port, wait_listening
from ingest import make_body
from redis.asyncio import Redis

from conduit import ids
from conduit.bootstrap import bootstrap
from conduit.runtime import Runtime
from conduit.settings import Settings

REDIS = "redis://127.0.0.1:6379/13"
SECRET = "bench-workers-" + "k" * 40
PAGE = """query Page($id: ID!) { project(id: $id) { issues(first: 50) {
  edges { node { id title status count lastSeen latestEvent { id message } } } } } }"""


def _load(kind: str, base: str, seconds: float, concurrency: int, target: dict[str, str]) -> int:
    """One client process: as many requests as answer in `seconds`, `concurrency` at a time."""

    async def run() -> int:
        done = 0
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def one_worker() -> None:
                nonlocal done
                while time.monotonic() < deadline:
                    if kind == "ingest":
                        reply = await client.post(
                            f"/api/{target['project_id']}/envelope/",
                            content=make_body(
                                target["key"], int(target["project_id"]), f"WorkersBench{done % 40}"
                            ),
                            headers={
                                "X-Sentry-Auth": f"Sentry sentry_key={target['key']}, sentry_version=7",
                                "Content-Encoding": "gzip",
                            },
                        )
                    else:
                        reply = await client.post(
                            "/graphql",
                            json={"query": PAGE, "variables": {"id": target["project"]}},
                            headers={"Authorization": f"Bearer {target['token']}"},
                        )
                    done += reply.is_success

            await asyncio.gather(*(one_worker() for _ in range(concurrency)))
        return done

    return asyncio.run(run())


def measure(kind: str, base: str, seconds: float, concurrency: int, target: dict[str, str]) -> float:
    clients = 2
    with ProcessPoolExecutor(clients) as pool:
        futures = [
            pool.submit(_load, kind, base, seconds, concurrency // clients, target) for _ in range(clients)
        ]
        return sum(f.result() for f in futures) / seconds


def _env(url: str, workdir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDUIT_", "PROMETHEUS_"))}
    return env | {
        "CONDUIT_DATABASE_URL": url,
        "CONDUIT_REDIS_URL": REDIS,
        "CONDUIT_SECRET_KEY": SECRET,
        "CONDUIT_DATA_DIR": str(workdir),
        "CONDUIT_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }


@contextlib.contextmanager
def running(workers: int, url: str, workdir: Path) -> Iterator[str]:
    """`conduit serve --workers N` and one `conduit worker` on `url`; yields the server's base URL."""
    port = free_port()
    env = _env(url, workdir, port)
    procs = []
    try:
        for name, command in (
            ("serve", ["serve", "--workers", str(workers), "--port", str(port)]),
            ("worker", ["worker"]),
        ):
            log = (workdir / f"{name}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "conduit.cli", *command],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        wait_listening(port, 60)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):  # every worker up: uvicorn listens before the last one has started
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                break
        yield base
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


async def configuration(workers: int, seconds: float, concurrency: int, parent: Path) -> tuple[float, float]:
    """Ingest and GraphQL rates of one configuration, on a database and a Redis queue of its own."""
    workdir = Path(tempfile.mkdtemp(dir=parent))
    redis = Redis.from_url(REDIS)
    await redis.flushdb()
    try:
        async with database("postgresql", workdir) as url:
            runtime = Runtime.create(Settings(database_url=url, secret_key=SECRET, data_dir=workdir))
            try:
                async with runtime.sessions() as session:
                    boot = await bootstrap(session, "bench", "workers", "http://localhost")
            finally:
                await runtime.close()
            target = {
                "project_id": str(boot.project_id),
                "key": boot.dsn.split("://", 1)[1].split("@", 1)[0],
                "token": boot.token,
                "project": ids.encode("Project", boot.project_id),
            }
            with running(workers, url, workdir) as base:
                measure("ingest", base, 2, concurrency, target)  # warm: issues exist, caches filled
                ingest = measure("ingest", base, seconds, concurrency, target)
                graphql = measure("graphql", base, seconds, concurrency, target)
    finally:
        await redis.flushdb()
        await redis.aclose()
    return ingest, graphql


def _figure(values: list[float], digits: int) -> str:
    best = max(values)
    if len(values) == 1:
        return f"{best:.{digits}f}"
    return f"{best:.{digits}f} ({min(values):.{digits}f}-{best:.{digits}f})"


async def main_async(seconds: float, concurrency: int, rounds: int) -> None:
    print(
        f"PostgreSQL, {concurrency} concurrent requests from 2 client processes, {seconds:g} s each, "
        f"{rounds} round(s) alternating\n"
    )
    results: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for workers in results:
                results[workers].append(await configuration(workers, seconds, concurrency, Path(tmp)))
    print(
        f"{'workers':>7} {'ingest ev/s (range)':>22} {'ratio':>6} {'graphql req/s (range)':>24} {'ratio':>6}"
    )
    base_ingest = max(i for i, _ in results[1])
    base_graphql = max(g for _, g in results[1])
    for workers, figures in results.items():
        ingest = [i for i, _ in figures]
        graphql = [g for _, g in figures]
        print(
            f"{workers:>7} {_figure(ingest, 0):>22} {max(ingest) / base_ingest:>6.2f}"
            f" {_figure(graphql, 1):>24} {max(graphql) / base_graphql:>6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main_async(args.seconds, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
