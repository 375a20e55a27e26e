"""How the shared suites drive Linear."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any

import httpx

from conduit.connectors import Connector, TicketDraft, TicketRecord
from conduit.connectors.linear import graphql
from tests.connectors.drivers import Driver
from tests.connectors.linear.conftest import linear_token
from tests.connectors.sandbox.serving import Served

COMMENTS = """query IssueComments($id: String!) {
  issue(id: $id) { comments(first: 50) { nodes { body createdAt } } }
}"""


class LinearDriver(Driver):
    # Every call is a POST to /graphql: faults match the operation's name.
    ticket_read_call = "IssueGet"
    status_change_call = "IssueUpdate"
    webhooks_in_state = "webhooks"
    revokes_grant = True
    # Linear shows members' emails to the workspace, so a search by email always finds them.
    finds_hidden_emails = True
    signs_body = True
    moves_tickets = True
    assignee_email = "bob@example.com"
    fuzz_headers: dict[str, str] = {"Content-Type": "application/json", "Linear-Event": "Issue"}
    fuzz_fields = {"type": "Issue", "action": "update"}

    api_path = "/graphql"
    created_status = 200

    def api_call(self, served: Served) -> Callable[[], httpx.Response]:
        headers = {"Authorization": f"Bearer {linear_token(served)['access_token']}"}
        body = {"query": graphql.VIEWER}
        return lambda: served.http.post(self.api_path, json=body, headers=headers)

    def check_rate_limited(self, served: Served, limited: httpx.Response) -> None:
        reset = int(limited.headers["x-ratelimit-requests-reset"])
        # Epoch milliseconds, not seconds.
        assert reset > 10**12
        assert limited.headers["x-ratelimit-requests-remaining"] == "0"
        assert limited.json()["errors"][0]["extensions"]["code"] == "RATELIMITED"

    def check_description(self, state: dict[str, Any], created: TicketRecord, draft: TicketDraft) -> None:
        issue = next(i for i in state["issues"] if i["identifier"] == created.key)
        assert draft.exception is not None
        assert f"\n{draft.exception}\n" in issue["description"]
        assert f"]({draft.issue_url})" in issue["description"]
        # And the back-link as an attachment, which survives edits to the description.
        assert draft.issue_url in {a["url"] for a in issue["attachments"]}

    def labels(self, state: dict[str, Any], created: TicketRecord) -> list[str]:
        issue = next(i for i in state["issues"] if i["identifier"] == created.key)
        return [str(label["name"]) for label in issue["labels"]]

    def forgeries(
        self, headers: dict[str, str], body: bytes, secret: str | None
    ) -> list[tuple[dict[str, str], bytes, str | None]]:
        document = json.loads(body)
        stale = json.dumps(document | {"webhookTimestamp": document["webhookTimestamp"] - 120_000}).encode()
        other = json.dumps(document | {"webhookId": "00000000-0000-4000-8000-000000000000"}).encode()
        return [
            (headers | {"Linear-Signature": "0" * 64}, body, secret),
            (headers | {"Linear-Signature": "sha256=" + _sign(secret, body)}, body, secret),
            # Signed by whoever holds the secret, but replayed two minutes late / for another webhook.
            (headers | {"Linear-Signature": _sign(secret, stale)}, stale, secret),
            (headers | {"Linear-Signature": _sign(secret, other)}, other, secret),
        ]

    def tamper(self, body: bytes) -> bytes:
        return body.replace(b'"type":"completed"', b'"type":"unstarted"')

    async def comments(self, connector: Connector, key: str) -> list[str]:
        data = await graphql.call(connector.api, "test.comments", COMMENTS, {"id": key})
        nodes = sorted(data["issue"]["comments"]["nodes"], key=lambda c: c["createdAt"])
        return [c["body"] for c in nodes]

    async def new_scope(self, control: httpx.AsyncClient) -> str:
        key = "B" + secrets.token_hex(3).upper().replace("0", "Z")[:5]
        (await control.post("/teams", json={"key": key})).raise_for_status()
        return key


def _sign(secret: str | None, body: bytes) -> str:
    return hmac.new((secret or "").encode(), body, hashlib.sha256).hexdigest()


DRIVER = LinearDriver()
