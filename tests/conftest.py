"""Shared fixtures: every database-backed test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from conduit.app import create_app
from conduit.bootstrap import bootstrap
from conduit.db.migrate import upgrade_async
from conduit.runtime import Runtime
from conduit.settings import Settings

PG_ADMIN_DSN = os.environ.get("CONDUIT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


async def _pg_reachable() -> bool:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A freshly migrated database, one per backend per test session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "conduit.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade_async(url)
        yield url
        return
    if not await _pg_reachable():
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {PG_ADMIN_DSN}")
        pytest.skip("PostgreSQL not reachable")
    name = f"conduit_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    try:
        await upgrade_async(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "data_dir": data_dir,
        "secret_key": "test-secret-key-" + "x" * 32,
        "public_url": "http://testserver",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def runtime(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    rt = Runtime.create(make_settings(database_url, tmp_path_factory.mktemp("data")))
    yield rt
    await rt.close()


@pytest.fixture(scope="session")
def app(runtime: Runtime) -> Starlette:
    return create_app(runtime=runtime)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Tenant:
    """An organization with a project, an admin token and a DSN, made the way `conduit bootstrap` does."""

    organization_id: int
    project_id: int
    token: str
    dsn: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def public_key(self) -> str:
        return self.dsn.split("://", 1)[1].split("@", 1)[0]


@pytest.fixture
async def tenant(runtime: Runtime) -> Tenant:
    async with runtime.sessions() as session:
        r = await bootstrap(session, f"org {secrets.token_hex(4)}", "backend", runtime.settings.public_url)
    return Tenant(r.organization_id, r.project_id, r.token, r.dsn)


tenant2 = tenant


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_in_thread(server: uvicorn.Server) -> threading.Thread:
    """Run `server` on a thread of its own; return once it listens."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # Generous: on a loaded 2-core machine start-up (lifespan, job runner) can take seconds.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and thread.is_alive():
        if server.started:
            return thread
        time.sleep(0.01)
    raise RuntimeError("server did not start")


def stop_thread(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=10)


class LiveServer:
    """A real uvicorn on loopback, in a thread with its own event loop and its own Runtime."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings.model_copy(update={"public_url": self.url})
        config = uvicorn.Config(
            create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)

    def __enter__(self) -> LiveServer:
        self.thread = start_in_thread(self.server)
        return self

    def __exit__(self, *exc: object) -> None:
        stop_thread(self.server, self.thread)


@pytest.fixture
def live_server(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(runtime.settings) as server:
        yield server


class ConduitProcesses:
    """`conduit` commands run as real child processes (workers, API servers), stopped at teardown."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: Sequence[str], env: dict[str, str], name: str = "proc") -> subprocess.Popen[bytes]:
        # The child writes to its own copy of the file descriptor; this process's copy is closed at once.
        with open(self.log_dir / f"{name}-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "conduit.cli", *args],
                cwd=Path(__file__).resolve().parent.parent,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
