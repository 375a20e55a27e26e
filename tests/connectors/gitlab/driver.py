"""How the shared suites drive GitLab."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx

from conduit.connectors import Connector, TicketDraft, TicketRecord
from tests.connectors.drivers import Driver
from tests.connectors.gitlab.conftest import gitlab_token
from tests.connectors.sandbox.serving import Served, bearer


class GitLabDriver(Driver):
    ticket_read_call = "issues.get"
    status_change_call = "issues.update"
    webhooks_in_state = "hooks"
    # `POST /oauth/revoke`.
    revokes_grant = True
    # User search shows public emails only (to anyone but an administrator).
    finds_hidden_emails = False
    # `X-Gitlab-Token` is the shared secret itself, not a signature of the body.
    signs_body = False
    assignee_email = "grace@example.com"
    # `POST /projects/:id/issues/:iid/move`: a new issue in the other project, the old one closed.
    moves_tickets = True
    fuzz_headers = {"X-Gitlab-Event": "Issue Hook", "Content-Type": "application/json"}
    fuzz_fields: dict[str, Any] = {"object_kind": "issue"}

    api_path = "/api/v4/user"

    def api_call(self, served: Served) -> Callable[[], httpx.Response]:
        headers = bearer(gitlab_token(served)["access_token"])
        return lambda: served.http.get(self.api_path, headers=headers)

    def check_rate_limited(self, served: Served, limited: httpx.Response) -> None:
        assert limited.headers["ratelimit-remaining"] == "0"
        assert int(limited.headers["ratelimit-reset"]) >= int(served.sandbox.clock.time()) + 6
        assert limited.headers["content-type"].startswith("text/plain")
        assert limited.text.strip() == "Retry later"

    def check_description(self, state: dict[str, Any], created: TicketRecord, draft: TicketDraft) -> None:
        issue = next(i for i in state["issues"] if i["web_url"] == created.url)
        description = issue["description"]
        # The fence is longer than the backticks inside the exception, so they cannot close it.
        assert "````\nTraceback" in description and "ZeroDivisionError: ```boom```\n````" in description
        assert f"]({draft.issue_url})" in description

    def labels(self, state: dict[str, Any], created: TicketRecord) -> list[str]:
        issue = next(i for i in state["issues"] if i["web_url"] == created.url)
        return [str(n) for n in issue["labels"]]

    def forgeries(
        self, headers: dict[str, str], body: bytes, secret: str | None
    ) -> list[tuple[dict[str, str], bytes, str | None]]:
        return [
            (headers | {"X-Gitlab-Token": "not-the-secret"}, body, secret),
            (headers, body, "a-different-secret"),
            (headers | {"X-Gitlab-Token": (secret or "") + " "}, body, secret + "x" if secret else "x"),
            # The right secret, from another GitLab server.
            (headers | {"X-Gitlab-Instance": "https://gitlab.evil.test"}, body, secret),
        ]

    def tamper(self, body: bytes) -> bytes:
        return body.replace(b'"action":"close"', b'"action":"reopen"')

    async def comments(self, connector: Connector, key: str) -> list[str]:
        project, iid = key.rsplit("#", 1)
        reply = await connector.api.call(
            "test.comments",
            "GET",
            "/projects/{project}/issues/{iid}/notes",
            path={"project": project, "iid": iid},
            params={"sort": "asc", "per_page": 100},
        )
        return [str(n["body"]) for n in reply.data if not n["system"]]

    async def new_scope(self, control: httpx.AsyncClient) -> str:
        scope = f"acme/batch-{secrets.token_hex(3)}"
        (await control.post("/projects", json={"path": scope})).raise_for_status()
        return scope


DRIVER = GitLabDriver()
