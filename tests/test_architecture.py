"""Every top-level module of `conduit` has a place in the layers import-linter enforces (ARCHITECTURE.md):
a module left out of the contract could import anything without `make lint` noticing."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import conduit

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_every_top_level_module_is_in_a_layer() -> None:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    [layers] = [c["layers"] for c in contracts if c["type"] == "layers"]
    listed = {part.strip() for line in layers for part in line.replace(":", "|").split("|")}
    modules = {f"conduit.{m.name}" for m in pkgutil.iter_modules(conduit.__path__)}
    assert modules - listed == set(), "add these to a layer in pyproject.toml"
    assert listed - modules == set(), "the contract names modules that do not exist"
