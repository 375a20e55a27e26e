"""`conduit serve --workers N`: several API processes on one port, one `/metrics` for all of them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.test_cli import run_cli

REDIS = "redis://127.0.0.1:6379/14"


def test_more_than_one_worker_without_redis_is_refused(tmp_path: Path) -> None:
    done = run_cli("serve", "--workers", "2", env={"CONDUIT_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "CONDUIT_REDIS_URL" in done.stderr
    assert run_cli("serve", "--workers", "0", env={"CONDUIT_DATA_DIR": str(tmp_path)}).returncode == 2


def _requests_counted(text: str) -> float:
    """Every `conduit_http_requests_total` sample of the /healthz route, added up."""
    pattern = re.compile(r'^conduit_http_requests_total\{[^}]*route="/healthz"[^}]*\} ([0-9.e+]+)$', re.M)
    return sum(float(v) for v in pattern.findall(text))


def test_two_workers_serve_one_port_and_share_their_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDUIT_", "PROMETHEUS_"))}
    env |= {
        "CONDUIT_DATA_DIR": str(tmp_path),
        "CONDUIT_REDIS_URL": REDIS,
        "CONDUIT_METRICS_TOKEN": "m" * 32,
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "conduit.cli", "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"conduit serve --workers 2 did not start: {proc.stderr.read() if proc.stderr else ''}"
                )
            time.sleep(0.2)
        # New connections each time: the kernel spreads them over both processes' accepts.
        for _ in range(40):
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        metrics = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer " + "m" * 32}, timeout=5)
        assert metrics.status_code == 200
        # Whichever process answers the scrape reports what both answered.
        assert _requests_counted(metrics.text) >= 41
        workers = [p for p in (tmp_path / "metrics").glob("*.db")]
        assert len({re.sub(r"^.*_(\d+)\.db$", r"\1", p.name) for p in workers}) >= 2
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
