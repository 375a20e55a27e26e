"""The in-house tracker sandbox (the reference service) served for its own tests, and signed calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conduit.connectors.inhouse.connector import sign_request
from conduit.connectors.inhouse.sandbox import InhouseSandbox
from tests.connectors.sandbox.serving import Served, serve


@pytest.fixture
def inhouse() -> Iterator[Served]:
    with serve(InhouseSandbox()) as served:
        yield served


def signing_secret(served: Served) -> str:
    """A secret the service accepts, as a team configures its service with one."""
    return str(served.control("POST", "/api-tokens", json={})["token"])


def signed(secret: str, body: bytes = b"") -> dict[str, str]:
    """Headers of one signed call (a fresh webhook-id each time: the service refuses a replay)."""
    return {**sign_request(secret, body), "Content-Type": "application/json"}
