"""Ingest and GraphQL throughput of `conduit serve --workers N` on PostgreSQL, for 1 and 2 processes.

Each configuration is a real `conduit serve --workers N` child process on a throwaway PostgreSQL database,
with Redis (which more than one worker needs). The load comes from client processes of this script
(so they do not share the servers' GIL): gzip'd Sentry envelopes at a fixed concurrency, then the
50-issue page query. Jobs are left queued in Redis (no `conduit worker` runs) so that the figures are
the API processes' own. Figures are requests answered 2xx per second, side by side in one run; the
ratio is against one worker. On a 2-core machine the load generator competes with the servers, so two
workers cannot double the rate: the ratio says how much of the second core the second process turns
into throughput.

    .venv/bin/python bench/workers.py [--seconds 8] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
from common import database, free_port, wait_listening
from ingest import make_body

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


def serve(workers: int, url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDUIT_", "PROMETHEUS_"))}
    env |= {
        "CONDUIT_DATABASE_URL": url,
        "CONDUIT_REDIS_URL": REDIS,
        "CONDUIT_SECRET_KEY": SECRET,
        "CONDUIT_DATA_DIR": str(workdir / f"w{workers}"),
        "CONDUIT_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    log = (workdir / f"serve-{workers}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "conduit.cli", "serve", "--workers", str(workers), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_listening(port, 60)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):  # every worker up: uvicorn listens before the last one has started
        if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
            break
    return proc, base


async def main_async(seconds: float, concurrency: int) -> None:
    workdir = Path(tempfile.mkdtemp())
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
        print(f"PostgreSQL, {concurrency} concurrent requests from 2 client processes, {seconds:g} s each\n")
        print(f"{'workers':>7} {'ingest ev/s':>12} {'ratio':>6} {'graphql req/s':>14} {'ratio':>6}")
        first: tuple[float, float] | None = None
        for workers in (1, 2):
            proc, base = serve(workers, url, workdir)
            try:
                measure("ingest", base, 2, concurrency, target)  # warm: issues exist, caches filled
                ingest = measure("ingest", base, seconds, concurrency, target)
                graphql = measure("graphql", base, seconds, concurrency, target)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            first = first or (ingest, graphql)
            print(
                f"{workers:>7} {ingest:>12.0f} {ingest / first[0]:>6.2f} {graphql:>14.1f} {graphql / first[1]:>6.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main_async(args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
