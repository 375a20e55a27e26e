"""How the shared suites drive the in-house tracker (its sandbox is the reference service)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from conduit.connectors import Connector, TicketDraft, TicketRecord
from tests.connectors.drivers import Driver
from tests.connectors.inhouse.conftest import signed, signing_secret
from tests.connectors.sandbox.serving import Served


def _sign(secret: str, msg_id: str, stamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class InhouseDriver(Driver):
    ticket_read_call = "tickets.read"
    status_change_call = "tickets.status"
    webhooks_in_state = "webhooks"
    # The secret is the team's: Conduit forgets it on uninstall, the service's owner retires it.
    revokes_grant = False
    # The contract's email lookup is exact and finds people whose address lists do not show.
    finds_hidden_emails = True
    signs_body = True
    assignee_email = "sam@example.com"
    fuzz_headers = {"webhook-id": "msg_fuzz", "Content-Type": "application/json"}
    fuzz_fields: dict[str, Any] = {"type": "ticket.status_changed"}

    api_path = "/describe"

    def api_call(self, served: Served) -> Callable[[], httpx.Response]:
        secret = signing_secret(served)
        return lambda: served.http.get(self.api_path, headers=signed(secret))

    def check_rate_limited(self, served: Served, limited: httpx.Response) -> None:
        # The contract: 429, Retry-After in seconds, and the error shape with its code.
        assert int(limited.headers["retry-after"]) > 0
        assert limited.json()["error"]["code"] == "rate_limited"

    def check_description(self, state: dict[str, Any], created: TicketRecord, draft: TicketDraft) -> None:
        ticket = next(t for t in state["tickets"] if t["url"] == created.url)
        body = ticket["description"]
        # The fence is longer than the backticks inside the exception, so they cannot close it.
        assert "````\nTraceback" in body and "ZeroDivisionError: ```boom```\n````" in body
        assert f"]({draft.issue_url})" in body

    def labels(self, state: dict[str, Any], created: TicketRecord) -> list[str]:
        ticket = next(t for t in state["tickets"] if t["url"] == created.url)
        return [str(n) for n in ticket["labels"]]

    def forgeries(
        self, headers: dict[str, str], body: bytes, secret: str | None
    ) -> list[tuple[dict[str, str], bytes, str | None]]:
        assert secret is not None
        lowered = {k.lower(): v for k, v in headers.items()}
        msg_id, stamp = lowered["webhook-id"], int(lowered["webhook-timestamp"])
        others = {k: v for k, v in headers.items() if k.lower() != "webhook-signature"}
        stale = stamp - 3600
        return [
            (headers, body.replace(b'"', b"'", 1), secret),
            (headers, body, "a-different-secret"),
            # Another delivery's id under this signature: the id is signed too.
            (
                {**others, "webhook-signature": lowered["webhook-signature"], "webhook-id": "msg_other"},
                body,
                secret,
            ),
            # A scheme the contract does not use.
            ({**others, "webhook-signature": "v1a," + lowered["webhook-signature"][3:]}, body, secret),
            # Genuinely signed, an hour ago: a replay.
            (
                {
                    **others,
                    "webhook-timestamp": str(stale),
                    "webhook-signature": _sign(secret, msg_id, stale, body),
                },
                body,
                secret,
            ),
            # Signed for the future.
            (
                {
                    **others,
                    "webhook-timestamp": str(int(time.time()) + 3600),
                    "webhook-signature": _sign(secret, msg_id, int(time.time()) + 3600, body),
                },
                body,
                secret,
            ),
        ]

    def tamper(self, body: bytes) -> bytes:
        document = json.loads(body)
        ticket = document["data"]["ticket"]
        ticket["done"], ticket["status"] = not ticket["done"], "Open" if ticket["done"] else "Done"
        return json.dumps(document, separators=(",", ":")).encode()

    async def comments(self, connector: Connector, key: str) -> list[str]:
        reply = await connector.api.call("test.comments", "GET", "/tickets/{key}/comments", path={"key": key})
        return [str(c["body"]) for c in reply.data["comments"]]

    async def new_scope(self, control: httpx.AsyncClient) -> str:
        key = "B" + secrets.token_hex(3).upper()
        (await control.post("/projects", json={"key": key})).raise_for_status()
        return key


DRIVER = InhouseDriver()
