"""What every benchmark needs, once: ports, servers on loopback, a fresh database and a runtime on it,
webhook receivers in child processes, new issues with their events, percentiles.

Benchmarks run as scripts (`python bench/<name>.py`), so this directory is on `sys.path` and they import
this module as `common`. Everything here talks to loopback only.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path

import asyncpg
import uvicorn
from starlette.types import ASGIApp

from conduit.db.base import utcnow
from conduit.db.migrate import upgrade_async
from conduit.db.models import Issue, OutboxRow
from conduit.events.emit import emit
from conduit.events.resources import issue_resource
from conduit.runtime import Runtime
from conduit.settings import Settings

# An admin connection: benchmarks create a scratch database beside it and drop it after.
PG_DSN = os.environ.get(
    "CONDUIT_BENCH_PG_DSN", os.environ.get("CONDUIT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
)
# A Redis database of the benchmarks' own: they flush it before and after.
REDIS_URL = os.environ.get("CONDUIT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, deadline: float = 20) -> None:
    """Block until something accepts connections on loopback `port` (a server in another process)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline:g} s")


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run `app` on uvicorn in a thread of this process; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@asynccontextmanager
async def database(kind: str, workdir: Path, pg_dsn: str = PG_DSN) -> AsyncIterator[str]:
    """A freshly migrated database: a SQLite file in `workdir`, or a new PostgreSQL database dropped after."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        await upgrade_async(url)
        yield url
        return
    name = f"conduit_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(pg_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = pg_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    try:
        await upgrade_async(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def until(condition: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Poll `condition` until it holds; a benchmark waits for work to finish, never for a fixed time."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within:g} s")
        await asyncio.sleep(0.005)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, linearly interpolated."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run_receiver(port: int, secret: str, arrivals: Queue[tuple[str, float]] | None = None) -> None:
    """A webhook receiver for a child process: verifies each delivery with the reference
    `standardwebhooks` package, answers 204, and reports (webhook-id, arrival time) to `arrivals`."""
    from standardwebhooks import Webhook, WebhookVerificationError
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    webhook = Webhook(secret)

    async def receive(request: Request) -> Response:
        try:
            webhook.verify(await request.body(), dict(request.headers), json_parse=False)
        except WebhookVerificationError:
            return Response(status_code=400)
        if arrivals is not None:
            arrivals.put((request.headers["webhook-id"], time.time()))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def bench_settings(url: str, data_dir: Path) -> Settings:
    """A server's settings on `url`, as tests run one: webhooks may go to loopback receivers."""
    return Settings(
        env="test",
        database_url=url,
        data_dir=data_dir,
        secret_key="bench-secret-key-" + "x" * 32,
        allow_private_webhook_urls=True,
    )


@asynccontextmanager
async def bench_runtime(kind: str) -> AsyncIterator[Runtime]:
    """A runtime on a fresh database (`database`), closed after."""
    with tempfile.TemporaryDirectory(prefix="conduit-bench-") as tmp:
        async with database(kind, Path(tmp)) as url:
            runtime = Runtime.create(bench_settings(url, Path(tmp)))
            try:
                yield runtime
            finally:
                await runtime.close()


def database_name(runtime: Runtime) -> str:
    return runtime.settings.database_url.split(":")[0].split("+")[0]


@contextmanager
def receiver_process(
    target: Callable[..., None], port: int, *args: object
) -> Iterator[tuple[BaseProcess, Queue[tuple[str, float]]]]:
    """`target(port, *args, arrivals)` in a child process (a webhook receiver on loopback `port`),
    once it listens; yields the process and the queue it reports (webhook-id, arrival time) to."""
    spawn = multiprocessing.get_context("spawn")
    arrivals: Queue[tuple[str, float]] = spawn.Queue()
    process = spawn.Process(target=target, args=(port, *args, arrivals), daemon=True)
    process.start()
    try:
        wait_listening(port)
        yield process, arrivals
    finally:
        process.terminate()


async def next_arrival(arrivals: Queue[tuple[str, float]], wait: float = 0.5) -> tuple[str, float] | None:
    """The next (webhook-id, arrival time) a receiver reported, or None after `wait` seconds."""
    try:
        return await asyncio.to_thread(arrivals.get, True, wait)
    except queue.Empty:
        return None


async def emit_new_issues(runtime: Runtime, organization_id: int, project_id: int, n: int) -> list[OutboxRow]:
    """`n` new issues and their `issue.created`, in one transaction; returns the events' outbox rows."""
    rows = []
    async with runtime.sessions() as session:
        for _ in range(n):
            now = utcnow()
            issue = Issue(
                organization_id=organization_id,
                project_id=project_id,
                fingerprint=uuid.uuid4().hex * 2,
                title="ZeroDivisionError: division by zero",
                culprit="app.billing.invoice in total",
                first_seen=now,
                last_seen=now,
                times_seen=1,
            )
            session.add(issue)
            await session.flush()
            rows.append(emit(session, "issue.created", organization_id, {"issue": issue_resource(issue)}))
        await session.commit()
    return rows


@dataclass
class Demo:
    """`conduit demo` running in a child process: its URL, the sign-in link and token it printed, and
    its sandbox trackers by name (`GitHub` → URL)."""

    url: str
    sign_in_link: str
    token: str
    trackers: dict[str, str]


@contextmanager
def running_demo(workdir: Path, **env_vars: str) -> Iterator[Demo]:
    """`conduit demo` on a free port with its data in `workdir`, as a newcomer runs it (with `env_vars`
    added to its environment); stopped after."""
    port = free_port()
    env = {**os.environ, **env_vars, "CONDUIT_DATA_DIR": str(workdir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conduit.cli", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        text = "".join(banner)
        link = re.search(r"(http://\S+/console/sign-in/\S+)", text)
        token = re.search(r"Token:\s+(\S+)", text)
        trackers = re.search(r"Sandbox trackers[^:]*: (.*)", text)
        if not (link and token and trackers):
            raise RuntimeError(f"conduit demo did not start:\n{text}")
        found = dict(re.findall(r"([A-Za-z][\w-]*(?: [a-z][\w-]*)?) (http://\S+)", trackers.group(1)))
        yield Demo(f"http://127.0.0.1:{port}", link.group(1), token.group(1), found)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def chromium() -> str:
    """The OS package's Chromium (`CONDUIT_CHROMIUM` to use another)."""
    for candidate in (os.environ.get("CONDUIT_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("no Chromium: apt-get install chromium, or set CONDUIT_CHROMIUM")
