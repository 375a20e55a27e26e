"""How Conduit slows as a project grows: page latency and ingest rate at 10³, 10⁵ and 10⁶ issues (PostgreSQL).

One throwaway PostgreSQL database grows in steps; at each size the same two things are measured:

- the first page of the project's issues as the console asks for it — 50 issues sorted by last seen, no
  status filter, each with its latest event — as GraphQL requests one after the other (p50 and p95);
- ingest: gzip'd Sentry envelopes at a fixed concurrency, half of them new errors, half repeats of
  existing ones (events per second).

Issues (each with one event) are added with set-based SQL between the steps, then ANALYZEd, as a long-lived
database would be. Conduit runs in this process with its embedded job runner; ratios are against the
smallest size, side by side in one run.

    .venv/bin/python bench/growth.py [--sizes 1000,100000,1000000] [--pages 40] [--events 400]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from common import database, pct
from ingest import make_body
from sqlalchemy import text

from conduit import ids
from conduit.app import create_app
from conduit.bootstrap import bootstrap
from conduit.jobs.config import JobsSettings
from conduit.jobs.service import start_jobs
from conduit.runtime import Runtime
from conduit.settings import Settings

PAGE = """query Page($id: ID!) { project(id: $id) { issues(first: 50) {
  edges { node { id title status count lastSeen latestEvent { id message } } } } } }"""

# Issues numbered from `start` to `stop`, seen over the last thirty days, one event each.
GROW = """
INSERT INTO issue (organization_id, project_id, fingerprint, title, culprit, level, status,
                   first_seen, last_seen, times_seen, created_at)
SELECT :org, :project, md5('g' || n) || md5('h' || n), 'GrowthError: case ' || n, 'app.handlers', 'error',
       CASE WHEN n % 3 = 0 THEN 'resolved' ELSE 'unresolved' END,
       now() - interval '30 days', now() - (n % 2592000) * interval '1 second', 1 + n % 50, now()
FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) AS n
"""
GROW_EVENTS = """
INSERT INTO event (organization_id, project_id, issue_id, event_id, timestamp, received_at, platform, level,
                   message, exception_type, exception_value, tags, data)
SELECT organization_id, project_id, id, md5('e' || id), last_seen, last_seen, 'python', 'error',
       title, 'GrowthError', title, '{}', '{}'
FROM issue WHERE project_id = :project AND id > :after
"""


async def grow(runtime: Runtime, org: int, project: int, start: int, stop: int) -> None:
    async with runtime.engine.begin() as conn:
        after = (await conn.execute(text("SELECT coalesce(max(id), 0) FROM issue"))).scalar_one()
        await conn.execute(text(GROW), {"org": org, "project": project, "start": start, "stop": stop})
        await conn.execute(text(GROW_EVENTS), {"project": project, "after": after})
        await conn.execute(text("ANALYZE issue"))
        await conn.execute(text("ANALYZE event"))


async def page_latency(client: httpx.AsyncClient, token: str, project: str, n: int) -> list[float]:
    body = {"query": PAGE, "variables": {"id": project}}
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for i in range(n + 3):
        started = time.perf_counter()
        reply = await client.post("/graphql", json=body, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if reply.status_code != 200 or "errors" in reply.json():
            raise RuntimeError(reply.text[:500])
        if i >= 3:  # the first few fill caches
            times.append(elapsed)
    return times


async def ingest_rate(client: httpx.AsyncClient, project_id: int, key: str, n: int, size: int) -> float:
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7", "Content-Encoding": "gzip"}
    # Half new errors, half repeats of a few known ones: grouping finds both kinds.
    bodies = [make_body(key, project_id, f"Grown{size}x{i}" if i % 2 else "Repeated") for i in range(n)]
    queue = list(bodies)

    async def sender() -> None:
        while queue:
            body = queue.pop()
            reply = await client.post(f"/api/{project_id}/envelope/", content=body, headers=headers)
            if reply.status_code != 200:
                raise RuntimeError(f"ingest answered {reply.status_code}: {reply.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(8)))
    return n / (time.perf_counter() - started)


async def run(sizes: list[int], pages: int, events: int) -> None:
    workdir = Path(tempfile.mkdtemp())
    async with database("postgresql", workdir) as url:
        settings = Settings(database_url=url, secret_key="bench-growth-" + "g" * 40, data_dir=workdir)
        runtime = Runtime.create(settings)
        jobs = await start_jobs(runtime, JobsSettings(poll_interval_seconds=0.2))
        try:
            async with runtime.sessions() as session:
                boot = await bootstrap(session, "bench", "growth", "http://localhost")
            key = boot.dsn.split("://", 1)[1].split("@", 1)[0]
            project = ids.encode("Project", boot.project_id)
            transport = httpx.ASGITransport(app=create_app(runtime=runtime))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as client:
                print(
                    f"PostgreSQL; page: {pages} requests one at a time; ingest: {events} events, 8 at a time\n"
                )
                print(
                    f"{'issues':>9} {'page p50 ms':>12} {'p95 ms':>8} {'ratio':>6} {'ingest ev/s':>12} {'ratio':>6}"
                )
                have = 0
                base: tuple[float, float] | None = None
                for size in sizes:
                    await grow(runtime, boot.organization_id, boot.project_id, have + 1, size)
                    have = size
                    latency = await page_latency(client, boot.token, project, pages)
                    rate = await ingest_rate(client, boot.project_id, key, events, size)
                    p50 = pct(latency, 0.5)
                    base = base or (p50, rate)
                    print(
                        f"{size:>9} {p50:>12.1f} {pct(latency, 0.95):>8.1f} {p50 / base[0]:>6.2f}"
                        f" {rate:>12.0f} {rate / base[1]:>6.2f}"
                    )
        finally:
            await jobs.stop()
            await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--events", type=int, default=400)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    asyncio.run(run(sizes, args.pages, args.events))


if __name__ == "__main__":
    main()
