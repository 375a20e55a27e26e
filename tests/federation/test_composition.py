"""Conduit's subgraph composes into a supergraph with Apollo's and The Guild's composition libraries."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conduit.resolvers.sdl import export_sdl

HERE = Path(__file__).parent
REPO_ROOT = HERE.parent.parent
LIBRARIES = {"@apollo/composition", "@theguild/federation-composition"}


def compose(node: str, sdl: str) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run(
        [node, str(HERE / "compose.mjs")],
        input=sdl,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        results = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"compose.mjs printed no report (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.returncode, results


def test_subgraph_composes_with_both_libraries(node: str) -> None:
    code, results = compose(node, export_sdl())
    assert {r["library"] for r in results} == LIBRARIES
    failures = {r["library"]: r["errors"] for r in results if not r["ok"]}
    assert not failures, json.dumps(failures, indent=2)
    assert code == 0


def test_composition_check_reports_failures(node: str) -> None:
    # The Guild rejects federation v2.11 links, which is why the schema pins v2.9; this also proves the
    # check above can fail.
    sdl = export_sdl()
    assert "federation/v2.9" in sdl
    code, results = compose(node, sdl.replace("federation/v2.9", "federation/v2.11"))
    assert code == 1
    guild = next(r for r in results if r["library"] == "@theguild/federation-composition")
    assert not guild["ok"]
    assert any("v2.11" in error for error in guild["errors"])


def test_committed_schema_matches_the_code() -> None:
    committed = (REPO_ROOT / "schema.graphql").read_text()
    assert committed == export_sdl(), (
        "schema.graphql is out of date with the code: run `conduit export-schema` and commit the result"
    )
