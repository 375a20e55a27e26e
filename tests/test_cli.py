from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import uvicorn

from conduit.app import create_app
from conduit.cli import server_config
from conduit.resolvers.sdl import export_sdl
from conduit.runtime import Runtime
from tests.conftest import free_port
from tests.logrecords import recording


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONDUIT_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "conduit.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


def test_bootstrap_json_is_idempotent_for_org_and_project(tmp_path: Path) -> None:
    env = {"CONDUIT_DATA_DIR": str(tmp_path / "data"), "CONDUIT_PUBLIC_URL": "http://errors.example.com"}
    first = run_cli("bootstrap", "--org", "Acme", "--project", "API", "--json", env=env)
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert set(out) == {"organization_id", "project_id", "token", "dsn"}
    assert out["token"].startswith("cdt_")
    assert out["dsn"].startswith("http://") and out["dsn"].endswith(
        f"@errors.example.com/{out['project_id']}"
    )
    second = json.loads(run_cli("bootstrap", "--org", "Acme", "--project", "API", "--json", env=env).stdout)
    assert (second["organization_id"], second["project_id"], second["dsn"]) == (
        out["organization_id"],
        out["project_id"],
        out["dsn"],
    )
    assert second["token"] != out["token"]
    # The generated key was persisted beside the database, readable only by its owner.
    key = tmp_path / "data" / "secret.key"
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"


def test_production_refuses_placeholder_secret(tmp_path: Path) -> None:
    env = {"CONDUIT_ENV": "production", "CONDUIT_SECRET_KEY": "changeme", "CONDUIT_DATA_DIR": str(tmp_path)}
    r = run_cli("bootstrap", "--org", "A", "--project", "B", env=env)
    assert r.returncode == 2
    assert "CONDUIT_SECRET_KEY must be set" in r.stderr
    assert not (tmp_path / "secret.key").exists()


def test_bad_arguments_are_explained() -> None:
    r = run_cli("bootstrap", "--org", "A")
    assert r.returncode == 2 and "--project" in r.stderr
    r = run_cli("launch")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    r = run_cli("migrate", env={"CONDUIT_DATABASE_URL": "nosuchdb://x", "CONDUIT_DATA_DIR": str(tmp_path)})
    assert r.returncode == 2
    assert "CONDUIT_DATABASE_URL" in r.stderr


def test_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    r = run_cli("export-schema", "-o", str(target))
    assert r.returncode == 0, r.stderr
    assert target.read_text() == export_sdl()


async def test_serve_access_log_redacts_secret_query_parameters(runtime: Runtime) -> None:
    """A real request through the uvicorn set-up `conduit serve` uses, its access records captured."""
    port = free_port()
    server = uvicorn.Server(server_config(create_app(runtime.settings), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    # After the config: uvicorn's logging set-up replaces handlers, and this one must stay.
    with recording(("uvicorn.access",), until="/oauth/github/callback", level=logging.INFO) as logged:
        thread.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                for _ in range(600):
                    if server.started:
                        break
                    await asyncio.sleep(0.05)
                await client.get("/oauth/github/callback", params={"code": "C0DE-1", "state": "ST4TE-2"})
                await client.post("/api/1/store/?sentry_key=K3Y-3&sentry_version=7", content=b"{}")
            assert logged.seen.wait(30), logged.messages()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    lines = "\n".join(logged.messages())
    assert "/oauth/github/callback?code=[redacted]&state=[redacted]" in lines
    assert "/api/1/store/?sentry_key=[redacted]&sentry_version=7" in lines
    for secret in ("C0DE-1", "ST4TE-2", "K3Y-3"):
        assert secret not in lines


async def test_serve_holds_at_most_max_connections(runtime: Runtime) -> None:
    """Clients trickling their headers hold connections; past the cap the next one is refused with 503,
    so they cannot take every descriptor of the process."""
    port = free_port()
    server = uvicorn.Server(server_config(create_app(runtime.settings), "127.0.0.1", port, max_connections=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    slow: list[asyncio.StreamWriter] = []
    try:
        for _ in range(600):
            if server.started:
                break
            await asyncio.sleep(0.05)
        for _ in range(2):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")  # the headers never end
            await writer.drain()
            slow.append(writer)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):  # until the server has accepted both slow connections
                refused = await client.get("/healthz")
                if refused.status_code == 503:
                    break
                await asyncio.sleep(0.05)
        assert refused.status_code == 503
    finally:
        for writer in slow:
            writer.close()
        server.should_exit = True
        thread.join(timeout=10)
