"""The Linear sandbox served for its own tests, how to get a token from it, and how to ask it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conduit.connectors.linear.sandbox import LinearSandbox
from conduit.connectors.sandbox.oauth import pkce_s256
from tests.connectors.sandbox.serving import Served, authorize_code, serve

CLIENT_ID = "sandbox-linear-client"
VERIFIER = "v" * 64


@pytest.fixture
def linear() -> Iterator[Served]:
    sandbox = LinearSandbox()
    sandbox.outbox.retry_delay = 0.05
    with serve(sandbox) as served:
        yield served


def linear_token(
    served: Served, scope: str = "read,write,issues:create,comments:create,admin"
) -> dict[str, Any]:
    secret = served.sandbox.oauth.clients[CLIENT_ID].client_secret
    code = authorize_code(
        served.http,
        "/oauth/authorize",
        client_id=CLIENT_ID,
        redirect_uri="http://app.test/cb",
        response_type="code",
        scope=scope,
        state="s",
        actor="app",
        code_challenge=pkce_s256(VERIFIER),
        code_challenge_method="S256",
    )["code"]
    response = served.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": secret,
            "code": code,
            "redirect_uri": "http://app.test/cb",
            "code_verifier": VERIFIER,
        },
    )
    assert response.status_code == 200, response.text
    token: dict[str, Any] = response.json()
    return token


def gql(served: Served, token: str | None, query: str, **variables: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return served.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
