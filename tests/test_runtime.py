"""The runtime owns what it holds: made once, closed once, newest first, and nothing after it closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit.runtime import Resource, Runtime, RuntimeClosed
from tests.conftest import make_settings


async def test_resources_are_made_once_and_closed_newest_first(tmp_path: Path) -> None:
    rt = Runtime.create(make_settings(f"sqlite+aiosqlite:///{tmp_path}/rt.db", tmp_path))
    closed: list[str] = []

    async def close(value: list[str]) -> None:
        closed.append(value[0])

    first = Resource[list[str]]("first", lambda _: ["first"], close)
    second = Resource[list[str]]("second", lambda _: ["second"], close)
    given = Resource[list[str]]("given", close=close)
    assert rt.get(first) is rt.get(first)
    assert rt.find(second) is None
    rt.get(second)
    with pytest.raises(LookupError, match="given has not been provided"):
        rt.get(given)
    rt.provide(given, ["given"])
    with pytest.raises(ValueError, match="already holds given"):
        rt.provide(given, ["again"])

    dropped = Resource[list[str]]("dropped", close=close)
    value = rt.provide(dropped, ["dropped"])
    assert rt.release(dropped, value) and not rt.release(dropped, value)

    await rt.close()
    assert closed == ["given", "second", "first"]
    with pytest.raises(RuntimeClosed):
        rt.get(first)
