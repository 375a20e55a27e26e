"""Linear's webhooks from the sandbox: signed as Linear signs them, and read by the connector —
fresh, for this workspace and webhook, and understood."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from conduit.connectors import ChangeKind, StatusCategory, WebhookRejected
from conduit.connectors.api import Api
from conduit.connectors.base import WebhookContext
from conduit.connectors.config import SyncConfig
from conduit.connectors.http import Target
from conduit.connectors.linear import graphql
from conduit.connectors.linear.catalog import LINEAR
from conduit.connectors.linear.connector import LinearConnector
from tests.connectors.linear.conftest import gql, linear_token
from tests.connectors.sandbox.serving import Received, Receiver, Served

SECRET = "lin-wh-secret"


def _connector(served: Served) -> LinearConnector:
    api = Api(
        http=None,  # type: ignore[arg-type]  # reading deliveries never calls out
        provider=LINEAR,
        target=Target(1, 1),
        endpoints=LINEAR.endpoints(served.url),
        auth=None,
        site_url=served.url,
    )
    return LinearConnector(api, SyncConfig())


def _setup(served: Served, receiver: Receiver) -> tuple[str, str, WebhookContext]:
    token = linear_token(served)["access_token"]
    hook = gql(
        served,
        token,
        graphql.WEBHOOK_CREATE,
        input={
            "url": receiver.url + "/hooks",
            "teamId": "ENG",
            "resourceTypes": ["Issue", "Comment"],
            "secret": SECRET,
        },
    ).json()["data"]["webhookCreate"]["webhook"]
    made = served.control("POST", "/issues", json={"team": "ENG", "title": "Crash on save"})["issue"]
    context = WebhookContext(
        account_id=served.sandbox.organization.id,
        site_url=served.url,
        cloud=False,
        webhook_ids=frozenset({hook["id"]}),
    )
    return str(made["identifier"]), str(hook["id"]), context


def _body(received: Received) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(received.body)
    return data


def test_deliveries_are_signed_and_carry_linear_headers(linear: Served, receiver: Receiver) -> None:
    key, hook_id, context = _setup(linear, receiver)
    [created] = receiver.wait_for(1)
    signature = hmac.new(SECRET.encode(), created.body, hashlib.sha256).hexdigest()
    assert created.headers["linear-signature"] == signature  # hex, no prefix
    assert created.headers["linear-event"] == "Issue" and created.headers["linear-delivery"]
    body = _body(created)
    assert (body["type"], body["action"], body["data"]["identifier"]) == ("Issue", "create", key)
    assert body["webhookId"] == hook_id and body["organizationId"] == context.account_id
    assert abs(body["webhookTimestamp"] / 1000 - linear.sandbox.clock.time()) < 5
    connector = _connector(linear)
    connector.verify_webhook(created.headers, created.body, SECRET, context)
    change = connector.parse_webhook(created.headers, created.body)
    assert change.kind is ChangeKind.CREATED and change.key == key
    assert change.ticket is not None and change.ticket.tracker_id == body["data"]["id"]
    assert change.delivery_id == created.headers["linear-delivery"]


def test_state_assignee_comment_and_delete_are_understood(linear: Served, receiver: Receiver) -> None:
    key, _, context = _setup(linear, receiver)
    connector = _connector(linear)
    bob = next(u.id for u in linear.sandbox.users.values() if u.email == "bob@example.com")
    linear.control("POST", "/tickets/close", json={"key": key})
    linear.control("POST", "/tickets/reopen", json={"key": key})
    linear.control("POST", "/tickets/assign", json={"key": key, "account": bob})
    linear.control("POST", "/tickets/comment", json={"key": key, "text": "Seen again", "user": bob})
    linear.control("POST", "/tickets/delete", json={"key": key})
    deliveries = receiver.wait_for(6)[1:]
    changes = []
    for received in deliveries:
        connector.verify_webhook(received.headers, received.body, SECRET, context)
        changes.append(connector.parse_webhook(received.headers, received.body))
    kinds = [c.kind for c in changes]
    assert kinds == [
        ChangeKind.CLOSED,
        ChangeKind.REOPENED,
        ChangeKind.ASSIGNED,
        ChangeKind.COMMENTED,
        ChangeKind.DELETED,
    ]
    closed = changes[0]
    assert closed.ticket is not None and closed.ticket.status_category is StatusCategory.DONE
    assert _body(deliveries[0])["updatedFrom"]["completedAt"] is None
    assert changes[2].ticket is not None and changes[2].ticket.assignee_id == bob
    comment = changes[3]
    assert (comment.comment, comment.actor, comment.key) == ("Seen again", bob, key)
    assert comment.comment_id == _body(deliveries[3])["data"]["id"]
    # A comment names its issue, not its state: the record says so, and is read before it is applied.
    assert comment.ticket is not None and comment.ticket.updated_at is None
    assert changes[4].ticket is not None and changes[4].ticket.deleted


def test_stale_foreign_and_forged_deliveries_are_refused(linear: Served, receiver: Receiver) -> None:
    _, _, context = _setup(linear, receiver)
    [created] = receiver.wait_for(1)
    connector = _connector(linear)
    with pytest.raises(WebhookRejected, match="signature does not match"):
        connector.verify_webhook(created.headers, created.body, "another-secret", context)
    with pytest.raises(WebhookRejected, match="not signed"):
        connector.verify_webhook({}, created.body, SECRET, context)
    elsewhere = WebhookContext(account_id="another-workspace", webhook_ids=context.webhook_ids)
    with pytest.raises(WebhookRejected, match="organizationId"):
        connector.verify_webhook(created.headers, created.body, SECRET, elsewhere)
    other_hook = WebhookContext(account_id=context.account_id, webhook_ids=frozenset({"someone-else"}))
    with pytest.raises(WebhookRejected, match="webhookId"):
        connector.verify_webhook(created.headers, created.body, SECRET, other_hook)

    # The sandbox's clock runs two minutes ahead: its next delivery is stamped in the future.
    linear.control("POST", "/clock", json={"advance": 120})
    linear.control("POST", "/tickets/close", json={"key": _body(created)["data"]["identifier"]})
    [_, late] = receiver.wait_for(2)
    with pytest.raises(WebhookRejected, match=r"webhookTimestamp is 1[12][0-9] s ahead of now"):
        connector.verify_webhook(late.headers, late.body, SECRET, context)


def test_webhook_delete_and_listing(linear: Served, receiver: Receiver) -> None:
    token = linear_token(linear)["access_token"]
    _, hook_id, _ = _setup(linear, receiver)
    listed = gql(
        linear, token, "query { webhooks { nodes { id secret resourceTypes team { key } } } }"
    ).json()
    [node] = listed["data"]["webhooks"]["nodes"]
    assert node["id"] == hook_id and node["secret"] is None and node["team"] == {"key": "ENG"}
    gone = gql(linear, token, graphql.WEBHOOK_DELETE, id=hook_id).json()["data"]["webhookDelete"]
    assert gone["success"] is True
    again = gql(linear, token, graphql.WEBHOOK_DELETE, id=hook_id).json()
    assert again["errors"][0]["message"] == "Entity not found: Webhook"
