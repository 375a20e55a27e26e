"""GitHub sandbox outgoing webhooks: hooks API, signatures, payloads, redelivery, dropped deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from conduit.connectors.sandbox.signing import hub_signature_256
from tests.connectors.github.conftest import gh_auth, github_token
from tests.connectors.sandbox.serving import Received, Receiver, Served

REPO = "/api/v3/repos/acme/widgets"
SECRET = "whsec-test-secret"


def verify(received: Received, secret: str = SECRET) -> dict[str, Any]:
    """Check the signature exactly as a receiver would, without the sandbox's own signer."""
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["x-hub-signature-256"], expected)
    payload: dict[str, Any] = json.loads(received.body)
    return payload


def test_signer_matches_githubs_test_vector() -> None:
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert hub_signature_256("It's a Secret to Everybody", b"Hello, World!") == expected


@pytest.fixture
def hooked(github: Served, receiver: Receiver) -> dict[str, str]:
    """A token and a repo hook pointing at the receiver; the initial ping already arrived."""
    auth = gh_auth(github_token(github)["access_token"])
    created = github.http.post(
        REPO + "/hooks",
        json={
            "name": "web",
            "config": {"url": receiver.url + "/hooks/github", "content_type": "json", "secret": SECRET},
            "events": ["issues", "issue_comment"],
        },
        headers=auth,
    )
    assert created.status_code == 201
    assert created.json()["config"]["secret"] == "********"
    ping = receiver.wait_for(1)[0]
    assert ping.headers["x-github-event"] == "ping" and verify(ping)["hook_id"] == created.json()["id"]
    return auth


def test_hooks_can_be_listed_and_deleted(github: Served, receiver: Receiver, hooked: dict[str, str]) -> None:
    hooks = github.http.get(REPO + "/hooks", headers=hooked).json()
    assert [h["config"]["url"] for h in hooks] == [receiver.url + "/hooks/github"]
    assert github.http.delete(f"{REPO}/hooks/{hooks[0]['id']}", headers=hooked).status_code == 204
    assert github.http.get(REPO + "/hooks", headers=hooked).json() == []
    missing = github.http.post(REPO + "/hooks", json={"config": {}}, headers=hooked)
    assert missing.status_code == 422


def test_api_changes_send_signed_issue_webhooks(
    github: Served, receiver: Receiver, hooked: dict[str, str]
) -> None:
    github.http.post(REPO + "/issues", json={"title": "Boom"}, headers=hooked)
    github.http.patch(REPO + "/issues/1", json={"state": "closed"}, headers=hooked)
    received = receiver.wait_for(3)[1:]
    assert [r.headers["x-github-event"] for r in received] == ["issues", "issues"]
    opened, closed = (verify(r) for r in received)
    assert opened["action"] == "opened" and closed["action"] == "closed"
    assert closed["issue"]["state"] == "closed" and closed["issue"]["number"] == 1
    assert closed["repository"]["full_name"] == "acme/widgets" and closed["sender"]["login"] == "octocat"
    assert received[0].headers["x-github-delivery"] != received[1].headers["x-github-delivery"]


def test_a_person_closing_and_commenting_in_github(
    github: Served, receiver: Receiver, hooked: dict[str, str]
) -> None:
    github.http.post(REPO + "/issues", json={"title": "Boom"}, headers=hooked)
    receiver.wait_for(2)
    result = github.control("POST", "/repos/acme/widgets/issues/1/close", json={"state_reason": "completed"})
    assert result["issue"]["state"] == "closed" and len(result["deliveries"]) == 1
    github.control("POST", "/repos/acme/widgets/issues/1/comment", json={"body": "done here"})
    closed, commented = (verify(r) for r in receiver.wait_for(4)[2:])
    assert closed["action"] == "closed" and closed["sender"]["login"] == "monalisa"
    assert commented["action"] == "created" and commented["comment"]["body"] == "done here"
    assert receiver.requests[3].headers["x-github-event"] == "issue_comment"
    github.control("POST", "/repos/acme/widgets/issues/1/reopen")
    github.control("POST", "/repos/acme/widgets/issues/1/assign", json={"assignees": ["hubot"]})
    github.control("DELETE", "/repos/acme/widgets/issues/1")
    actions = [verify(r)["action"] for r in receiver.wait_for(7)[4:]]
    assert actions == ["reopened", "assigned", "deleted"]


def test_redelivery_keeps_the_delivery_guid(
    github: Served, receiver: Receiver, hooked: dict[str, str]
) -> None:
    result = github.control("POST", "/repos/acme/widgets/issues", json={"title": "from a person"})
    first = receiver.wait_for(2)[1]
    again = github.control("POST", f"/deliveries/{result['deliveries'][0]}/redeliver")
    assert again["redelivery_of"] == result["deliveries"][0]
    second = receiver.wait_for(3)[2]
    assert second.headers["x-github-delivery"] == first.headers["x-github-delivery"]
    assert second.body == first.body and verify(second)["action"] == "opened"


def test_dropped_webhooks_never_arrive(github: Served, receiver: Receiver, hooked: dict[str, str]) -> None:
    github.control("POST", "/faults", json={"kind": "drop_webhooks", "count": 1})
    dropped = github.control("POST", "/repos/acme/widgets/issues", json={"title": "lost"})
    kept = github.control("POST", "/repos/acme/widgets/issues", json={"title": "kept"})
    assert github.delivery(dropped["deliveries"][0])["status"] == "dropped"
    assert github.delivery(kept["deliveries"][0])["status"] == "delivered"
    titles = [verify(r)["issue"]["title"] for r in receiver.wait_for(2)[1:]]
    assert titles == ["kept"]
    assert len(receiver.requests) == 2


def test_failed_delivery_is_recorded(github: Served, receiver: Receiver, hooked: dict[str, str]) -> None:
    receiver.statuses.append(500)
    result = github.control("POST", "/repos/acme/widgets/issues", json={"title": "x"})
    delivery = github.delivery(result["deliveries"][0])
    # GitHub does not retry by itself.
    assert delivery["status"] == "failed" and delivery["response_status"] == 500 and delivery["attempts"] == 1


def test_form_content_type_signs_the_form_body(github: Served, receiver: Receiver) -> None:
    github.control(
        "POST",
        "/repos/acme/widgets/hooks",
        json={"url": receiver.url, "secret": SECRET, "content_type": "form"},
    )
    received = receiver.wait_for(1)[0]
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers["x-hub-signature-256"] == expected and received.body.startswith(b"payload=")


def test_deliveries_can_be_rewritten_to_another_receiver(github: Served, receiver: Receiver) -> None:
    github.control("PUT", "/webhooks/config", json={"rewrite_to": receiver.url + "/elsewhere"})
    github.control("POST", "/repos/acme/widgets/hooks", json={"url": "http://unreachable.invalid/hook"})
    ping = receiver.wait_for(1)[0]
    assert ping.path == "/elsewhere" and ping.headers["x-github-event"] == "ping"
