"""Node tooling for the composition check, installed on demand from the committed lock file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
IN_CI = os.environ.get("CI", "").lower() == "true"
INSTALL_TIMEOUT = 600


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; CI must run the federation composition check")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, with this folder's node_modules installed."""
    node_bin = shutil.which("node")
    if node_bin is None:
        _unavailable("node is not installed")
    assert node_bin is not None
    if not (HERE / "node_modules" / "@apollo" / "composition").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not installed")
        assert npm is not None
        # `npm ci` installs exactly the committed package-lock.json.
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed in {HERE}:\n{done.stdout}\n{done.stderr}")
    return node_bin
