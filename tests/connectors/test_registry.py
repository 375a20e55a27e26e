"""Adding a tracker is one package plus one registry line: this proves the shared suites run for every
registered tracker, so one without a test driver, or left out of a suite, fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conduit.connectors.base import Connector
from conduit.connectors.registry import TRACKERS
from tests.connectors.drivers import KEYS, Driver, driver

ROOT = Path(__file__).resolve().parents[2]
# The suites that must run for every tracker, by test file; a test parametrised over the registry
# shows each key in its id.
SUITES = [
    "tests/connectors/test_contract.py",
    "tests/connectors/test_faults.py",
    "tests/connectors/sandbox/test_people.py",
    "tests/connectors/sandbox/test_faults.py",
    "tests/sync/test_end_to_end.py",
    "tests/sync/test_webhooks.py",
    "tests/sync/test_lifecycle.py",
    "tests/sync/test_people.py",
    "tests/sync/test_comments.py",
    "tests/sync/test_faults.py",
    "tests/sync/test_links_batched.py",
    "tests/sync/test_hook_boundary.py",
    "tests/sync/test_webhook_moves.py",
    "tests/connectors/test_tokens.py",
]


@pytest.mark.parametrize("key", KEYS)
def test_every_tracker_has_a_driver(key: str) -> None:
    assert isinstance(driver(key), Driver)


def test_every_connector_is_complete() -> None:
    for tracker in TRACKERS:
        assert issubclass(tracker.connector, Connector)
        assert not getattr(tracker.connector, "__abstractmethods__", None), tracker.key
        assert tracker.sandbox().name == tracker.key


def test_the_shared_suites_run_for_every_registered_tracker() -> None:
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *SUITES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    ids = [line for line in collected.stdout.splitlines() if "::" in line]

    def runs_for(key: str, test_id: str) -> bool:
        return f"[{key}" in test_id or f"-{key}]" in test_id or f"-{key}-" in test_id

    for suite in SUITES:
        mine = [i for i in ids if i.startswith(suite)]
        assert mine, f"{suite} collected nothing"
        for key in KEYS:
            assert any(runs_for(key, i) for i in mine), f"{suite} does not run for the {key} tracker"
        # Test by test: one that runs for some tracker runs for every tracker.
        functions: dict[str, list[str]] = {}
        for test_id in mine:
            functions.setdefault(test_id.split("[", 1)[0], []).append(test_id)
        for function, variants in functions.items():
            if any(runs_for(key, v) for key in KEYS for v in variants):
                missing = [key for key in KEYS if not any(runs_for(key, v) for v in variants)]
                assert not missing, f"{function} does not run for {', '.join(missing)}"
