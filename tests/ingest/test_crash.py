"""A server killed under load loses no event it acknowledged.

`conduit serve` runs as a real child process on the test database (a SQLite file, then PostgreSQL).
Senders post events at concurrency and note every event id answered 200; once some are acknowledged and
more are in flight, the server is killed with SIGKILL (no shutdown, nothing flushed). A new server is
started on the same database, which must come up and take events again; then every acknowledged event
id must be in the database. Events that were in flight and never answered may or may not be there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from conduit.db.models import Event
from conduit.runtime import Runtime
from tests.conftest import ConduitProcesses, Tenant, free_port
from tests.ingest.helpers import event_envelope, exception_event, sentry_auth

ROOT = Path(__file__).resolve().parents[2]
SENDERS = 16
# Acknowledged events before the kill: enough for several group commits to have been answered.
ACKED_BEFORE_KILL = 150
# How long a server may take to start listening (imports, migrations) on a loaded machine.
STARTUP_SECONDS = 60.0


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ConduitProcesses]:
    procs = ConduitProcesses(tmp_path)
    yield procs
    procs.stop_all()


def serve(procs: ConduitProcesses, runtime: Runtime, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    settings = runtime.settings
    env = dict(os.environ)
    env.update(
        CONDUIT_ENV="test",
        CONDUIT_DATABASE_URL=settings.database_url,
        CONDUIT_SECRET_KEY=str(settings.secret_key),
        CONDUIT_DATA_DIR=str(data_dir),
        PYTHONPATH=str(ROOT),
    )
    env.pop("CONDUIT_REDIS_URL", None)
    return procs.start(["serve", "--host", "127.0.0.1", "--port", str(port)], env, name="serve")


async def listening(url: str, proc: subprocess.Popen[bytes]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_SECONDS
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            assert proc.poll() is None, "the server exited while starting"
            try:
                await http.get(f"{url}/healthz")
                return
            except httpx.TransportError:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def stored_ids(runtime: Runtime, project_id: int, event_ids: set[str]) -> set[str]:
    found: set[str] = set()
    wanted = sorted(event_ids)
    async with runtime.sessions() as session:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            stmt = select(Event.event_id).where(Event.project_id == project_id, Event.event_id.in_(chunk))
            found.update(await session.scalars(stmt))
    return found


async def test_a_killed_server_keeps_every_event_it_acknowledged(
    runtime: Runtime, tenant: Tenant, processes: ConduitProcesses, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = serve(processes, runtime, tmp_path, port)
    await listening(url, server)

    acked: set[str] = set()
    unanswered = 0
    killed = asyncio.Event()
    path = f"/api/{tenant.project_id}/envelope/"
    headers = sentry_auth(tenant.public_key)

    async def sender(http: httpx.AsyncClient) -> None:
        nonlocal unanswered
        while not killed.is_set():
            event = exception_event(f"Crash{len(acked) % 7}", "under load")
            try:
                r = await http.post(path, content=event_envelope(event), headers=headers)
            except httpx.TransportError:
                unanswered += 1
                continue
            if r.status_code == 200:
                assert r.json() == {"id": event["event_id"]}
                acked.add(event["event_id"])
                if len(acked) >= ACKED_BEFORE_KILL and not killed.is_set():
                    # Other senders' requests are in flight: some are mid-batch when the process dies.
                    server.send_signal(signal.SIGKILL)
                    killed.set()

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.gather(*(sender(http) for _ in range(SENDERS)))
    assert server.wait() == -signal.SIGKILL

    restarted = serve(processes, runtime, tmp_path, port)
    await listening(url, restarted)
    after = exception_event("AfterRestart", "taken")
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await http.post(path, content=event_envelope(after), headers=headers)
    assert r.status_code == 200

    missing = acked - await stored_ids(runtime, tenant.project_id, acked)
    assert not missing, (
        f"{len(missing)} of {len(acked)} acknowledged events were lost ({unanswered} never answered)"
    )
    assert await stored_ids(runtime, tenant.project_id, {after["event_id"]}) == {after["event_id"]}
