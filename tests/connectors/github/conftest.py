"""The GitHub sandbox served for its own tests, and how to get a token from it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conduit.connectors.github.sandbox import GitHubSandbox
from tests.connectors.sandbox.serving import Served, authorize_code, serve

GH_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


@pytest.fixture
def github() -> Iterator[Served]:
    with serve(GitHubSandbox()) as served:
        yield served


def github_token(served: Served, client: str = "sandbox-github-app", **extra: str) -> dict[str, Any]:
    secret = served.sandbox.oauth.clients[client].client_secret
    code = authorize_code(
        served.http, "/login/oauth/authorize", client_id=client, redirect_uri="http://app.test/cb", state="s"
    )["code"]
    response = served.http.post(
        "/login/oauth/access_token",
        data={"client_id": client, "client_secret": secret, "code": code, **extra},
        headers={"Accept": "application/json"},
    )
    token: dict[str, Any] = response.json()
    return token


def gh_auth(token: str) -> dict[str, str]:
    return GH_HEADERS | {"Authorization": f"Bearer {token}"}
