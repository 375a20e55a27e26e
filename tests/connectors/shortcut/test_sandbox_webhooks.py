"""Shortcut sandbox webhooks: registration, workspace-wide deliveries signed with Payload-Signature,
the event id in the body, redelivery, dropped deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from tests.connectors.sandbox.serving import Received, Receiver, Served
from tests.connectors.shortcut.conftest import API, api_token, sc_auth

SECRET = "whsec-shortcut-test"


def verify(received: Received, secret: str = SECRET) -> dict[str, Any]:
    """Check the signature as a receiver would: hex HMAC-SHA256 of the raw body, no prefix."""
    expected = hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["payload-signature"], expected)
    payload: dict[str, Any] = json.loads(received.body)
    return payload


@pytest.fixture
def hooked(shortcut: Served, receiver: Receiver) -> dict[str, str]:
    auth = sc_auth(api_token(shortcut))
    made = shortcut.http.post(
        API + "/integrations/webhook",
        json={"webhook_url": receiver.url + "/hooks/shortcut", "secret": SECRET},
        headers=auth,
    )
    assert made.status_code == 201
    assert made.json()["has_secret"] is True and "secret" not in made.json()
    return auth


def test_registration_get_and_delete(shortcut: Served, hooked: dict[str, str]) -> None:
    [hook] = shortcut.control("GET", "/state")["webhooks"]
    one = shortcut.http.get(f"{API}/integrations/webhook/{hook['id']}", headers=hooked).json()
    assert one["type"] == "generic" and one["entity_type"] == "integration"
    assert shortcut.http.delete(f"{API}/integrations/webhook/{hook['id']}", headers=hooked).status_code == 204
    assert shortcut.http.get(f"{API}/integrations/webhook/{hook['id']}", headers=hooked).status_code == 404
    bad = shortcut.http.post(API + "/integrations/webhook", json={"webhook_url": "ftp://x"}, headers=hooked)
    assert bad.status_code == 400


def test_create_and_state_change_are_signed_v1_events(
    shortcut: Served, receiver: Receiver, hooked: dict[str, str]
) -> None:
    made = shortcut.http.post(API + "/stories", json={"name": "Boom"}, headers=hooked).json()
    closed = shortcut.control("POST", "/tickets/close", json={"key": f"sc-{made['id']}"})
    assert closed["ticket"]["completed"] and len(closed["deliveries"]) == 1
    created, moved = (verify(r) for r in receiver.wait_for(2))
    assert created["version"] == "v1" and created["actions"][0]["action"] == "create"
    assert created["primary_id"] == made["id"] and created["member_id"] == made["requested_by_id"]
    [action] = moved["actions"]
    assert (
        action["action"] == "update"
        and action["changes"]["workflow_state_id"]["new"] != made["workflow_state_id"]
    )
    assert action["changes"]["completed"] == {"old": False, "new": True}
    new = next(r for r in moved["references"] if r["id"] == action["changes"]["workflow_state_id"]["new"])
    assert new["type"] == "done" and new["entity_type"] == "workflow-state"
    assert moved["member_id"] == shortcut.sandbox.human != created["member_id"]
    assert moved["id"] != created["id"] and moved["changed_at"].endswith("Z")
    # No delivery id header: the event's id is in the body.
    assert not any("delivery" in h for h in receiver.requests[1].headers)


def test_comments_owners_and_deletes(shortcut: Served, receiver: Receiver, hooked: dict[str, str]) -> None:
    made = shortcut.http.post(API + "/stories", json={"name": "Boom"}, headers=hooked).json()
    key = f"sc-{made['id']}"
    account = shortcut.control("POST", "/people", json={"name": "dana", "email": "dana@example.com"})[
        "account"
    ]
    shortcut.control("POST", "/tickets/comment", json={"key": key, "text": "seen it"})
    shortcut.control("POST", "/tickets/assign", json={"key": key, "account": account})
    shortcut.control("POST", "/tickets/assign", json={"key": key, "account": None})
    shortcut.control("POST", "/tickets/delete", json={"key": key})
    _, commented, assigned, unassigned, deleted = (verify(r) for r in receiver.wait_for(5))
    comment, update = commented["actions"]
    assert comment["entity_type"] == "story-comment" and comment["text"] == "seen it"
    assert update["changes"]["comment_ids"]["adds"] == [comment["id"]]
    assert assigned["actions"][0]["changes"]["owner_ids"] == {"adds": [account]}
    assert unassigned["actions"][0]["changes"]["owner_ids"] == {"removes": [account]}
    assert deleted["actions"][0]["action"] == "delete"
    assert shortcut.http.get(f"{API}/stories/{made['id']}", headers=hooked).status_code == 404


def test_redelivery_keeps_the_event_id(shortcut: Served, receiver: Receiver, hooked: dict[str, str]) -> None:
    result = shortcut.control("POST", "/stories", json={"name": "from a person"})
    first = receiver.wait_for(1)[0]
    shortcut.control("POST", f"/deliveries/{result['deliveries'][0]}/redeliver")
    second = receiver.wait_for(2)[1]
    assert second.body == first.body and verify(second)["id"] == verify(first)["id"]


def test_dropped_webhooks_never_arrive(shortcut: Served, receiver: Receiver, hooked: dict[str, str]) -> None:
    shortcut.control("POST", "/faults", json={"kind": "drop_webhooks", "count": 1})
    dropped = shortcut.control("POST", "/stories", json={"name": "lost"})
    kept = shortcut.control("POST", "/stories", json={"name": "kept"})
    assert shortcut.delivery(dropped["deliveries"][0])["status"] == "dropped"
    assert shortcut.delivery(kept["deliveries"][0])["status"] == "delivered"
    assert [verify(r)["actions"][0]["name"] for r in receiver.wait_for(1)] == ["kept"]


def test_every_webhook_of_the_workspace_gets_every_change(shortcut: Served, receiver: Receiver) -> None:
    auth = sc_auth(api_token(shortcut))
    for path, secret in (("/a", "one"), ("/b", "two")):
        body = {"webhook_url": receiver.url + path, "secret": secret}
        shortcut.http.post(API + "/integrations/webhook", json=body, headers=auth)
    shortcut.control("POST", "/stories", json={"name": "for both"})
    a, b = sorted(receiver.wait_for(2), key=lambda r: r.path)
    assert verify(a, "one")["id"] == verify(b, "two")["id"]
