"""How the shared suites drive GitHub."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx

from conduit.connectors import Connector, TicketDraft, TicketRecord
from tests.connectors.drivers import Driver
from tests.connectors.github.conftest import gh_auth, github_token
from tests.connectors.sandbox.serving import Served


class GitHubDriver(Driver):
    ticket_read_call = "issues.get"
    status_change_call = "issues.update"
    webhooks_in_state = "hooks"
    revokes_grant = True
    finds_hidden_emails = False
    signs_body = True
    moves_tickets = True
    assignee_email = "hubot@example.com"
    fuzz_headers = {"X-GitHub-Event": "issues", "Content-Type": "application/json"}
    fuzz_fields: dict[str, Any] = {}

    api_path = "/api/v3/user"

    def api_call(self, served: Served) -> Callable[[], httpx.Response]:
        headers = gh_auth(github_token(served)["access_token"])
        return lambda: served.http.get(self.api_path, headers=headers)

    def check_rate_limited(self, served: Served, limited: httpx.Response) -> None:
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert int(limited.headers["x-ratelimit-reset"]) >= int(served.sandbox.clock.time()) + 6
        assert "documentation_url" in limited.json()

    def check_description(self, state: dict[str, Any], created: TicketRecord, draft: TicketDraft) -> None:
        issue = next(i for i in state["issues"] if i["html_url"] == created.url)
        body = issue["body"]
        # The fence is longer than the backticks inside the exception, so they cannot close it.
        assert "````\nTraceback" in body and "ZeroDivisionError: ```boom```\n````" in body
        assert f"]({draft.issue_url})" in body

    def labels(self, state: dict[str, Any], created: TicketRecord) -> list[str]:
        issue = next(i for i in state["issues"] if i["html_url"] == created.url)
        return [str(n["name"]) for n in issue["labels"]]

    def forgeries(
        self, headers: dict[str, str], body: bytes, secret: str | None
    ) -> list[tuple[dict[str, str], bytes, str | None]]:
        return [(headers, body.replace(b'"', b"'", 1), secret), (headers, body, "a-different-secret")]

    def tamper(self, body: bytes) -> bytes:
        return body.replace(b"closed", b"opened")

    async def comments(self, connector: Connector, key: str) -> list[str]:
        repo, number = key.split("#")
        owner, name = repo.split("/")
        path = {"owner": owner, "repo": name, "number": number}
        reply = await connector.api.call(
            "test.comments", "GET", "/repos/{owner}/{repo}/issues/{number}/comments", path=path
        )
        return [str(c["body"]) for c in reply.data]

    async def new_scope(self, control: httpx.AsyncClient) -> str:
        scope = f"acme/batch-{secrets.token_hex(3)}"
        (await control.post("/repos", json={"full_name": scope})).raise_for_status()
        return scope


DRIVER = GitHubDriver()
