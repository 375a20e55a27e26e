"""The Shortcut sandbox served for its own tests, and how to get an API token from it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conduit.connectors.shortcut.sandbox import ShortcutSandbox
from tests.connectors.sandbox.serving import Served, serve

API = "/api/v3"


@pytest.fixture
def shortcut() -> Iterator[Served]:
    with serve(ShortcutSandbox()) as served:
        yield served


def api_token(served: Served, user: str | None = None) -> str:
    """A token from the sandbox's Settings → API Tokens (the first member's unless `user`)."""
    minted = served.control("POST", "/api-tokens", json={"user": user} if user else {})
    return str(minted["token"])


def sc_auth(token: str) -> dict[str, str]:
    return {"Shortcut-Token": token, "Content-Type": "application/json"}
