"""The Jira sandbox served for its own tests, and how to get a token from it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conduit.connectors.jira.sandbox import JiraSandbox
from tests.connectors.sandbox.serving import Served, authorize_code, serve


@pytest.fixture
def jira() -> Iterator[Served]:
    sandbox = JiraSandbox()
    sandbox.outbox.retry_delay = 0.05
    with serve(sandbox) as served:
        yield served


def jira_token(
    served: Served, scope: str = "read:jira-work write:jira-work offline_access"
) -> dict[str, Any]:
    client_id, secret = (
        "sandbox-jira-client",
        served.sandbox.oauth.clients["sandbox-jira-client"].client_secret,
    )
    code = authorize_code(
        served.http,
        "/rest/oauth2/latest/authorize",
        client_id=client_id,
        redirect_uri="http://app.test/cb",
        response_type="code",
        scope=scope,
        state="s",
    )["code"]
    response = served.http.post(
        "/rest/oauth2/latest/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": secret,
            "code": code,
        },
    )
    assert response.status_code == 200, response.text
    token: dict[str, Any] = response.json()
    return token
