"""Jira sandbox webhooks: dynamic registration with expiry, JWT-signed deliveries, admin secrets, retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from tests.connectors.jira.conftest import jira_token
from tests.connectors.sandbox.serving import Received, Receiver, Served, bearer

API = "/rest/api/3"
CLIENT = "sandbox-jira-client"


def b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jwt(received: Received, secret: str) -> dict[str, Any]:
    """Decode and check the HS256 JWT by hand, as a receiver without the sandbox's code would."""
    scheme, _, token = received.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    header, payload, signature = token.split(".")
    assert json.loads(b64(header))["alg"] == "HS256"
    expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(b64(signature), expected)
    claims: dict[str, Any] = json.loads(b64(payload))
    assert claims["aud"] == CLIENT and claims["exp"] > time.time()
    return claims


@pytest.fixture
def registered(jira: Served, receiver: Receiver) -> dict[str, str]:
    auth = bearer(jira_token(jira)["access_token"])
    body = {
        "url": receiver.url + "/hooks/jira",
        "webhooks": [
            {
                "events": ["jira:issue_created", "jira:issue_updated", "comment_created"],
                "jqlFilter": "project = OPS",
            }
        ],
    }
    result = jira.http.post(API + "/webhook", json=body, headers=auth).json()
    assert "createdWebhookId" in result["webhookRegistrationResult"][0]
    return auth


def secret(jira: Served) -> str:
    value: str = jira.sandbox.oauth.clients[CLIENT].client_secret
    return value


def test_registration_list_refresh_and_delete(jira: Served, registered: dict[str, str]) -> None:
    listed = jira.http.get(API + "/webhook", headers=registered).json()
    hook = listed["values"][0]
    assert hook["jqlFilter"] == "project = OPS" and listed["total"] == 1
    jira.control("POST", "/clock", json={"advance": 3000})  # less than the access token lifetime
    refreshed = jira.http.put(
        API + "/webhook/refresh", json={"webhookIds": [hook["id"]]}, headers=registered
    ).json()
    assert refreshed["expirationDate"] > hook["expirationDate"]
    assert (
        jira.http.get(API + "/webhook", headers=registered).json()["values"][0]["expirationDate"]
        == refreshed["expirationDate"]
    )
    deleted = jira.http.request(
        "DELETE", API + "/webhook", json={"webhookIds": [hook["id"]]}, headers=registered
    )
    assert (
        deleted.status_code == 202
        and jira.http.get(API + "/webhook", headers=registered).json()["values"] == []
    )


def test_bad_registrations_report_errors_per_webhook(jira: Served, registered: dict[str, str]) -> None:
    body = {
        "url": "http://x",
        "webhooks": [
            {"events": ["jira:issue_created"], "jqlFilter": "colour = red"},
            {"events": ["nope"], "jqlFilter": ""},
        ],
    }
    results = jira.http.post(API + "/webhook", json=body, headers=registered).json()[
        "webhookRegistrationResult"
    ]
    assert all("errors" in r for r in results) and "colour" in results[0]["errors"][0]


def test_transition_by_a_person_sends_a_jwt_signed_update(
    jira: Served, receiver: Receiver, registered: dict[str, str]
) -> None:
    fields = {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "Boom"}
    jira.http.post(API + "/issue", json={"fields": fields}, headers=registered)
    result = jira.control("POST", "/issues/OPS-1/transition", json={"to": "Done"})
    assert result["issue"]["fields"]["status"]["name"] == "Done"
    created, updated = receiver.wait_for(2)
    verify_jwt(created, secret(jira))
    claims = verify_jwt(updated, secret(jira))
    body = json.loads(updated.body)
    assert body["webhookEvent"] == "jira:issue_updated" and body["issue"]["key"] == "OPS-1"
    status = next(i for i in body["changelog"]["items"] if i["field"] == "status")
    assert (status["fromString"], status["toString"]) == ("To Do", "Done")
    assert body["user"]["accountId"] == jira.sandbox.human == claims["sub"]
    # The claims name the site, the webhook and a short window: what a receiver binds the token to.
    [hook] = jira.http.get(API + "/webhook", headers=registered).json()["values"]
    assert claims["iss"] == jira.sandbox.url
    assert claims["context"] == {"cloudId": jira.sandbox.cloud_id, "webhookId": hook["id"]}
    assert claims["iat"] <= time.time() + 1 and 0 < claims["exp"] - claims["iat"] <= 600
    assert body["matchedWebhookIds"] == [hook["id"]]
    assert (
        updated.headers["x-atlassian-webhook-identifier"] != created.headers["x-atlassian-webhook-identifier"]
    )
    assert json.loads(created.body)["webhookEvent"] == "jira:issue_created"


def test_comment_sends_comment_created(jira: Served, receiver: Receiver, registered: dict[str, str]) -> None:
    jira.control("POST", "/issues", json={"project": "OPS", "summary": "x"})
    jira.control("POST", "/issues/OPS-1/comment", json={"text": "seen it"})
    events = [json.loads(r.body)["webhookEvent"] for r in receiver.wait_for(3)]
    assert events == ["jira:issue_created", "comment_created", "jira:issue_updated"]
    assert json.loads(receiver.requests[1].body)["comment"]["body"]["type"] == "doc"


def test_jql_filter_and_expiry_limit_deliveries(
    jira: Served, receiver: Receiver, registered: dict[str, str]
) -> None:
    jira.control("POST", "/projects", json={"key": "OTHER"})
    other = jira.control("POST", "/issues", json={"project": "OTHER", "summary": "not for us"})
    assert other["deliveries"] == []
    jira.control("POST", "/clock", json={"advance": 31 * 86400})
    expired = jira.control("POST", "/issues", json={"project": "OPS", "summary": "too late"})
    assert expired["deliveries"] == [] and receiver.requests == []


def test_dropped_webhook_never_arrives(jira: Served, receiver: Receiver, registered: dict[str, str]) -> None:
    jira.control("POST", "/faults", json={"kind": "drop_webhooks", "match": "jira:issue_created"})
    lost = jira.control("POST", "/issues", json={"project": "OPS", "summary": "lost"})
    assert jira.delivery(lost["deliveries"][0])["status"] == "dropped"
    moved = jira.control("POST", "/issues/OPS-1/transition", json={"to": "In Progress"})
    assert jira.delivery(moved["deliveries"][0])["status"] == "delivered"
    assert [json.loads(r.body)["webhookEvent"] for r in receiver.wait_for(1)] == ["jira:issue_updated"]


def test_failed_deliveries_are_retried_with_a_retry_header(
    jira: Served, receiver: Receiver, registered: dict[str, str]
) -> None:
    receiver.statuses += [503, 429]
    result = jira.control("POST", "/issues", json={"project": "OPS", "summary": "retry me"})
    delivery = jira.delivery(result["deliveries"][0])
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    first, second, third = receiver.wait_for(3)
    assert "x-atlassian-webhook-retry" not in first.headers
    assert (second.headers["x-atlassian-webhook-retry"], third.headers["x-atlassian-webhook-retry"]) == (
        "1",
        "2",
    )
    assert len({r.headers["x-atlassian-webhook-identifier"] for r in (first, second, third)}) == 1
    # Each attempt is signed afresh: a receiver that remembers spent tokens still takes a retry.
    assert len({r.headers["authorization"] for r in (first, second, third)}) == 3


def test_admin_webhook_is_signed_with_x_hub_signature(jira: Served, receiver: Receiver) -> None:
    jira.control(
        "POST",
        "/admin-webhooks",
        json={"url": receiver.url, "secret": "admin-secret", "jql": "project = OPS"},
    )
    jira.control("POST", "/issues", json={"project": "OPS", "summary": "x"})
    received = receiver.wait_for(1)[0]
    expected = "sha256=" + hmac.new(b"admin-secret", received.body, hashlib.sha256).hexdigest()
    assert received.headers["x-hub-signature"] == expected and "authorization" not in received.headers
