"""How the shared suites drive Jira."""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import OctKey

from conduit.connectors import Connector, TicketDraft, TicketRecord
from conduit.connectors.jira.adf import to_text
from tests.connectors.drivers import Driver
from tests.connectors.jira.conftest import jira_token
from tests.connectors.sandbox.serving import Served, bearer


class JiraDriver(Driver):
    ticket_read_call = "issue.get"
    status_change_call = "/transitions"
    webhooks_in_state = "webhooks"
    revokes_grant = False
    finds_hidden_emails = True
    # A dynamic webhook's JWT signs the sender and its claims, not the body.
    signs_body = False
    moves_tickets = True
    assignee_email = "bob@example.com"
    fuzz_headers: dict[str, str] = {"Content-Type": "application/json"}
    fuzz_fields = {"webhookEvent": "jira:issue_updated"}

    api_path = "/rest/api/3/myself"

    def api_call(self, served: Served) -> Callable[[], httpx.Response]:
        headers = bearer(jira_token(served)["access_token"])
        return lambda: served.http.get(self.api_path, headers=headers)

    def check_rate_limited(self, served: Served, limited: httpx.Response) -> None:
        assert limited.headers["x-ratelimit-reset"].endswith("Z")
        assert limited.json()["errorMessages"]

    def check_description(self, state: dict[str, Any], created: TicketRecord, draft: TicketDraft) -> None:
        issue = next(i for i in state["issues"] if i["key"] == created.key)
        content = issue["fields"]["description"]["content"]
        blocks = [n for n in content if n["type"] == "codeBlock"]
        assert blocks and blocks[0]["content"][0]["text"] == draft.exception
        marks = [m for n in content for t in n.get("content", []) for m in t.get("marks", [])]
        assert {"type": "link", "attrs": {"href": draft.issue_url}} in marks

    def labels(self, state: dict[str, Any], created: TicketRecord) -> list[str]:
        issue = next(i for i in state["issues"] if i["key"] == created.key)
        return [str(n) for n in issue["fields"]["labels"]]

    def label_as(self, name: str) -> str:
        return "-".join(name.split())

    def forgeries(
        self, headers: dict[str, str], body: bytes, secret: str | None
    ) -> list[tuple[dict[str, str], bytes, str | None]]:
        return [
            ({"Authorization": "Bearer not.a.jwt"}, body, None),
            ({"Authorization": "Bearer " + _jwt("wrong-secret")}, body, None),
        ]

    def tamper(self, body: bytes) -> bytes:
        return body.replace(b"Done", b"To Do")

    async def comments(self, connector: Connector, key: str) -> list[str]:
        reply = await connector.api.call("test.comments", "GET", "/issue/{key}/comment", path={"key": key})
        return [_paragraphs(c["body"]) for c in reply.data["comments"]]

    async def new_scope(self, control: httpx.AsyncClient) -> str:
        key = "B" + secrets.token_hex(3).upper().replace("0", "Z")
        (await control.post("/projects", json={"key": key})).raise_for_status()
        return key


def _paragraphs(document: dict[str, Any]) -> str:
    """An ADF document's paragraphs as plain text, blank-line separated (as Markdown would have them)."""
    return "\n\n".join(to_text(p) for p in document.get("content", []))


def _jwt(secret: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        claims = {"exp": int(time.time()) + 60, "aud": "sandbox-jira-client"}
        return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret.encode()))


DRIVER = JiraDriver()
