"""GitLab sandbox outgoing webhooks: project hooks, the secret token, headers, payloads as GitLab
shapes them, retries under one Idempotency-Key; and the connector reading them."""

from __future__ import annotations

import hmac
import json
from typing import Any

import pytest

from conduit.connectors import ChangeKind, WebhookRejected
from conduit.connectors.api import Api
from conduit.connectors.base import WebhookContext
from conduit.connectors.config import SyncConfig
from conduit.connectors.gitlab.catalog import GITLAB
from conduit.connectors.gitlab.connector import GitLabConnector
from conduit.connectors.http import Target
from tests.connectors.gitlab.conftest import gitlab_token
from tests.connectors.sandbox.serving import Received, Receiver, Served, bearer

PROJECT = "/api/v4/projects/acme%2Fwidgets"
SECRET = "whsec-gitlab-test"


def verify(received: Received, secret: str = SECRET) -> dict[str, Any]:
    """As a receiver checks it: the token is the secret itself, compared in constant time."""
    assert hmac.compare_digest(received.headers["x-gitlab-token"], secret)
    payload: dict[str, Any] = json.loads(received.body)
    return payload


def connector(site: str) -> GitLabConnector:
    api = Api(
        http=None,  # type: ignore[arg-type]  # parsing never calls out
        provider=GITLAB,
        target=Target(1, 1),
        endpoints=GITLAB.endpoints(site),
        auth=None,
        site_url=site,
    )
    return GitLabConnector(api, SyncConfig())


@pytest.fixture
def hooked(gitlab: Served, receiver: Receiver) -> dict[str, str]:
    auth = bearer(gitlab_token(gitlab)["access_token"])
    created = gitlab.http.post(
        PROJECT + "/hooks",
        json={
            "url": receiver.url + "/hooks/gitlab",
            "token": SECRET,
            "issues_events": True,
            "note_events": True,
            "push_events": False,
        },
        headers=auth,
    )
    assert created.status_code == 201 and "token" not in created.json()
    return auth


def test_hooks_can_be_listed_and_deleted(gitlab: Served, receiver: Receiver, hooked: dict[str, str]) -> None:
    hooks = gitlab.http.get(PROJECT + "/hooks", headers=hooked).json()
    assert [h["url"] for h in hooks] == [receiver.url + "/hooks/gitlab"]
    assert gitlab.http.delete(f"{PROJECT}/hooks/{hooks[0]['id']}", headers=hooked).status_code == 204
    assert gitlab.http.get(PROJECT + "/hooks", headers=hooked).json() == []
    assert gitlab.http.post(PROJECT + "/hooks", json={}, headers=hooked).json() == {"error": "url is missing"}


def test_issue_and_note_hooks(gitlab: Served, receiver: Receiver, hooked: dict[str, str]) -> None:
    gitlab.http.post(PROJECT + "/issues", json={"title": "Boom"}, headers=hooked)
    gitlab.control("POST", "/tickets/close", json={"key": "acme/widgets#1"})
    gitlab.control("POST", "/tickets/comment", json={"key": "acme/widgets#1", "text": "Seen again"})
    opened, closed, noted = receiver.wait_for(3)
    for received, event in ((opened, "Issue Hook"), (closed, "Issue Hook"), (noted, "Note Hook")):
        assert received.headers["x-gitlab-event"] == event
        assert received.headers["x-gitlab-instance"] == gitlab.url
        assert received.headers["idempotency-key"] and received.headers["x-gitlab-webhook-uuid"]
    assert verify(opened)["object_attributes"]["action"] == "open"
    body = verify(closed)
    assert body["object_attributes"]["action"] == "close" and body["user"]["username"] == "linus"
    assert body["changes"]["state_id"] == {"previous": 1, "current": 2}
    assert "assignees" not in body  # GitLab leaves the key out when there are none
    note = verify(noted)
    assert (note["object_kind"], note["object_attributes"]["note"], note["issue"]["iid"]) == (
        "note",
        "Seen again",
        1,
    )

    reader = connector(gitlab.url)
    context = WebhookContext(site_url=gitlab.url, cloud=False)
    reader.verify_webhook(closed.headers, closed.body, SECRET, context)
    change = reader.parse_webhook(closed.headers, closed.body)
    assert (change.kind, change.key, change.delivery_id) == (
        ChangeKind.CLOSED,
        "acme/widgets#1",
        closed.headers["idempotency-key"],
    )
    assert change.ticket is not None and change.ticket.tracker_id == str(body["object_attributes"]["id"])
    assert change.actor == str(body["user"]["id"])
    comment = reader.parse_webhook(noted.headers, noted.body)
    assert (comment.kind, comment.comment, comment.comment_id) == (
        ChangeKind.COMMENTED,
        "Seen again",
        str(note["object_attributes"]["id"]),
    )
    assert comment.actor == str(note["object_attributes"]["author_id"])


def test_the_token_is_the_secret_and_names_the_server(
    gitlab: Served, receiver: Receiver, hooked: dict[str, str]
) -> None:
    gitlab.http.post(PROJECT + "/issues", json={"title": "Boom"}, headers=hooked)
    [opened] = receiver.wait_for(1)
    reader = connector(gitlab.url)
    context = WebhookContext(site_url=gitlab.url, cloud=False)
    with pytest.raises(WebhookRejected, match="not this installation"):
        reader.verify_webhook(opened.headers, opened.body, "another-secret", context)
    unsigned = {k: v for k, v in opened.headers.items() if k != "x-gitlab-token"}
    with pytest.raises(WebhookRejected, match="no X-Gitlab-Token"):
        reader.verify_webhook(unsigned, opened.body, SECRET, context)
    elsewhere = opened.headers | {"x-gitlab-instance": "https://gitlab.other.test"}
    with pytest.raises(WebhookRejected, match="another GitLab server"):
        reader.verify_webhook(elsewhere, opened.body, SECRET, context)
    # An older server sends no X-Gitlab-Instance: the secret alone binds the delivery.
    older = {k: v for k, v in opened.headers.items() if k != "x-gitlab-instance"}
    reader.verify_webhook(older, opened.body, SECRET, context)
    # The cloud is gitlab.com, whatever the installation row says.
    cloud = opened.headers | {"x-gitlab-instance": "https://gitlab.com"}
    reader.verify_webhook(cloud, opened.body, SECRET, WebhookContext(cloud=True))


def test_retries_keep_the_idempotency_key(gitlab: Served, receiver: Receiver, hooked: dict[str, str]) -> None:
    gitlab.control("PUT", "/webhooks/config", json={"retries": 1, "retry_delay": 0.01})
    receiver.statuses = [500]
    gitlab.http.post(PROJECT + "/issues", json={"title": "Boom"}, headers=hooked)
    first, second = receiver.wait_for(2)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.headers["x-gitlab-webhook-uuid"] != second.headers["x-gitlab-webhook-uuid"]
    assert first.headers["x-gitlab-event-uuid"] == second.headers["x-gitlab-event-uuid"]


def test_assignment_and_a_move_as_the_connector_reads_them(
    gitlab: Served, receiver: Receiver, hooked: dict[str, str]
) -> None:
    gitlab.http.post(PROJECT + "/issues", json={"title": "Boom"}, headers=hooked)
    grace = gitlab.control("POST", "/people", json={"name": "grace2", "email": "g2@example.com"})["account"]
    gitlab.control("POST", "/tickets/assign", json={"key": "acme/widgets#1", "account": grace})
    gitlab.control("POST", "/tickets/move", json={"key": "acme/widgets#1", "scope": "acme/platform/api"})
    _, assigned, moved_away = receiver.wait_for(3)
    reader = connector(gitlab.url)
    change = reader.parse_webhook(assigned.headers, assigned.body)
    assert change.kind is ChangeKind.ASSIGNED and change.ticket is not None
    assert (change.ticket.assignee, change.ticket.assignee_id) == ("grace2", grace)
    # Closed by the move: not a resolution, so not acted on (a read follows the issue instead).
    assert reader.parse_webhook(moved_away.headers, moved_away.body).kind is ChangeKind.IGNORED


@pytest.mark.parametrize(
    "body",
    [
        b'{"object_kind": "issue", "project": {"path_with_namespace": "acme/widgets"}, "object_attributes": []}',
        b'{"object_kind": "issue", "project": {"path_with_namespace": "../x"}, "object_attributes": {"iid": 1}}',
        b'{"object_kind": "issue", "project": {}, "object_attributes": {"iid": 1}}',
        b'{"object_kind": "issue", "project": {"path_with_namespace": "a/b"}, "object_attributes": {"iid": "1"}}',
    ],
)
def test_malformed_deliveries_are_refused_with_a_reason(body: bytes) -> None:
    with pytest.raises(WebhookRejected):
        connector("http://gitlab.test").parse_webhook({"X-Gitlab-Event": "Issue Hook"}, body)


def test_other_events_are_ignored() -> None:
    change = connector("http://gitlab.test").parse_webhook(
        {"X-Gitlab-Event": "Push Hook", "Idempotency-Key": "k"}, b'{"object_kind": "push"}'
    )
    assert change.kind is ChangeKind.IGNORED and change.delivery_id == "k"
