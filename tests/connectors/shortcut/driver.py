"""How the shared suites drive Shortcut."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import httpx

from conduit.connectors import Connector, TicketDraft, TicketRecord
from conduit.connectors.shortcut.connector import WORKSPACE, story_id
from tests.connectors.drivers import Driver
from tests.connectors.sandbox.serving import Served
from tests.connectors.shortcut.conftest import api_token, sc_auth


class ShortcutDriver(Driver):
    ticket_read_call = "stories.get"
    status_change_call = "stories.update"
    webhooks_in_state = "webhooks"
    # An API token is deleted by the person who made it, in Shortcut's settings; no API call can.
    revokes_grant = False
    # Members who keep their email private are listed without it.
    finds_hidden_emails = False
    signs_body = True
    assignee_email = "sam@example.com"
    fuzz_headers = {"Content-Type": "application/json"}
    fuzz_fields: dict[str, Any] = {"id": "595285dc-9c43-4b9c-a1e6-0cd9aff5b084", "version": "v1"}

    api_path = "/api/v3/member"

    def api_call(self, served: Served) -> Callable[[], httpx.Response]:
        headers = sc_auth(api_token(served))
        return lambda: served.http.get(self.api_path, headers=headers)

    def check_rate_limited(self, served: Served, limited: httpx.Response) -> None:
        # Shortcut sends Retry-After and no other rate-limit header.
        assert int(limited.headers["retry-after"]) > 0
        assert limited.json()["message"] == "Too Many Requests"
        assert "x-ratelimit-remaining" not in limited.headers

    def check_description(self, state: dict[str, Any], created: TicketRecord, draft: TicketDraft) -> None:
        story = next(s for s in state["stories"] if s["app_url"] == created.url)
        body = story["description"]
        # The fence is longer than the backticks inside the exception, so they cannot close it.
        assert "````\nTraceback" in body and "ZeroDivisionError: ```boom```\n````" in body
        assert f"]({draft.issue_url})" in body

    def labels(self, state: dict[str, Any], created: TicketRecord) -> list[str]:
        story = next(s for s in state["stories"] if s["app_url"] == created.url)
        return [str(n["name"]) for n in story["labels"]]

    def forgeries(
        self, headers: dict[str, str], body: bytes, secret: str | None
    ) -> list[tuple[dict[str, str], bytes, str | None]]:
        signature = next(v for k, v in headers.items() if k.lower() == "payload-signature")
        others = {k: v for k, v in headers.items() if k.lower() != "payload-signature"}
        return [
            (headers, body.replace(b'"', b"'", 1), secret),
            (headers, body, "a-different-secret"),
            # The retired header name, or a prefix Shortcut never sends, is not the signature.
            (others | {"Clubhouse-Signature": signature}, body, secret),
            (others | {"Payload-Signature": "sha256=" + signature}, body, secret),
        ]

    def tamper(self, body: bytes) -> bytes:
        document = json.loads(body)
        for reference in document.get("references") or []:
            if reference.get("type") == "done":
                reference["type"] = "unstarted"
        return json.dumps(document, separators=(",", ":")).encode()

    async def comments(self, connector: Connector, key: str) -> list[str]:
        reply = await connector.api.call(
            "test.comments", "GET", "/stories/{id}/comments", path={"id": story_id(key)}
        )
        return [str(c["text"]) for c in reply.data]

    async def new_scope(self, control: httpx.AsyncClient) -> str:
        # Shortcut has one scope, the workspace (see the connector): a team of its own is still made,
        # as a person setting up would, but stories are listed by the workspace.
        mention = f"batch-{secrets.token_hex(3)}"
        (await control.post("/groups", json={"name": mention, "mention_name": mention})).raise_for_status()
        return WORKSPACE


DRIVER = ShortcutDriver()
