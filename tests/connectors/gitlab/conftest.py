"""The GitLab sandbox served for its own tests, and how to get a token from it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conduit.connectors.gitlab.sandbox import GitLabSandbox
from conduit.connectors.sandbox.oauth import pkce_s256
from tests.connectors.sandbox.serving import Served, authorize_code, serve

CLIENT = "sandbox-gitlab-app"
REDIRECT = "http://app.test/cb"
VERIFIER = "v" * 64


@pytest.fixture
def gitlab() -> Iterator[Served]:
    sandbox = GitLabSandbox()
    sandbox.outbox.retry_delay = 0.05
    with serve(sandbox) as served:
        yield served


def gitlab_token(served: Served, client: str = CLIENT, scope: str = "api") -> dict[str, Any]:
    """The authorization code flow with PKCE, as Conduit runs it."""
    secret = served.sandbox.oauth.clients[client].client_secret
    code = authorize_code(
        served.http,
        "/oauth/authorize",
        client_id=client,
        redirect_uri=REDIRECT,
        response_type="code",
        scope=scope,
        state="s",
        code_challenge=pkce_s256(VERIFIER),
        code_challenge_method="S256",
    )["code"]
    response = served.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client,
            "client_secret": secret,
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        },
    )
    assert response.status_code == 200, response.text
    token: dict[str, Any] = response.json()
    return token
