"""The Shortcut connector's own rules: keys, the one scope, webhook signatures and parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from conduit.connectors import ChangeKind, StatusCategory, SyncConfig, TicketRecord, WebhookRejected
from conduit.connectors.api import Api
from conduit.connectors.errors import InvalidRequest
from conduit.connectors.http import Target
from conduit.connectors.shortcut.catalog import SHORTCUT
from conduit.connectors.shortcut.connector import ShortcutConnector, check_scope, story_id


def connector(config: SyncConfig | None = None) -> ShortcutConnector:
    api = Api(
        http=None,  # type: ignore[arg-type]  # parsing never calls out
        provider=SHORTCUT,
        target=Target(1, 1),
        endpoints=SHORTCUT.endpoints("http://tracker.invalid"),
        auth=None,
    )
    return ShortcutConnector(api, config or SyncConfig())


def event(*actions: dict[str, Any], references: list[dict[str, Any]] | None = None) -> bytes:
    document = {
        "id": "595285dc-9c43-4b9c-a1e6-0cd9aff5b084",
        "changed_at": "2026-03-01T10:00:00.123Z",
        "version": "v1",
        "primary_id": 7,
        "member_id": "56d8a839-1c52-437f-b981-c3a15a11d6d4",
        "actions": list(actions),
        "references": references or [],
    }
    return json.dumps(document).encode()


def moved(old_type: str, new_type: str, new_name: str = "Completed") -> bytes:
    return event(
        {
            "id": 7,
            "entity_type": "story",
            "action": "update",
            "name": "Boom",
            "app_url": "http://x/sandbox/story/7",
            "changes": {"workflow_state_id": {"old": 1, "new": 2}},
        },
        references=[
            {"id": 1, "entity_type": "workflow-state", "name": "Before", "type": old_type},
            {"id": 2, "entity_type": "workflow-state", "name": new_name, "type": new_type},
        ],
    )


def test_keys_and_the_one_scope() -> None:
    assert story_id("sc-123") == 123 and story_id("SC-9") == 9
    for bad in ("123", "sc-", "sc-0", "sc-12/../1", "story-1"):
        with pytest.raises(InvalidRequest):
            story_id(bad)
    assert ShortcutConnector.scope_of("sc-123") == "workspace" == check_scope(" Workspace ")
    with pytest.raises(InvalidRequest, match="workspace"):
        check_scope("engineering")


def test_signature_is_the_hex_hmac_of_the_body() -> None:
    body = moved("unstarted", "done")
    signature = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    connector().verify_webhook({"payload-signature": signature}, body, "s3cret")
    for headers, secret in (
        ({"Payload-Signature": signature}, "other"),
        ({"Payload-Signature": signature.upper()}, "s3cret"),
        ({"Clubhouse-Signature": signature}, "s3cret"),
        ({}, "s3cret"),
        ({"Payload-Signature": signature}, None),
    ):
        with pytest.raises(WebhookRejected):
            connector().verify_webhook(headers, body, secret)


def test_state_changes_close_reopen_or_move() -> None:
    closed = connector().parse_webhook({}, moved("started", "done"))
    assert closed.kind is ChangeKind.CLOSED and closed.key == "sc-7" and closed.delivery_id
    assert closed.ticket is not None and closed.ticket.status_category is StatusCategory.DONE
    assert closed.ticket.tracker_id == "7" and closed.actor == "56d8a839-1c52-437f-b981-c3a15a11d6d4"
    assert closed.occurred_at is not None and closed.occurred_at.microsecond == 123000
    assert connector().parse_webhook({}, moved("done", "unstarted", "Ready")).kind is ChangeKind.REOPENED
    assert (
        connector().parse_webhook({}, moved("unstarted", "started", "Doing")).kind
        is ChangeKind.STATUS_CHANGED
    )
    # A done state the installation does not count as resolved.
    own = connector(SyncConfig(resolved_statuses=("Completed",)))
    assert own.parse_webhook({}, moved("started", "done", "Won't Do")).kind is ChangeKind.STATUS_CHANGED


async def test_a_move_alone_is_completed_from_the_stored_copy_without_a_read() -> None:
    """The connector here cannot call out (no HTTP client): a read would fail the test."""
    known = TicketRecord(
        "sc-7", "http://x/sandbox/story/7", "Boom", "Doing", StatusCategory.OPEN, None, None,
        assignee="ada", assignee_id="m-1", tracker_id="7", etag="W/1",
    )  # fmt: skip
    change = connector().parse_webhook({}, moved("started", "done"))
    assert change.ticket is not None and change.ticket.given is not None
    record = await connector().webhook_ticket(change.ticket, known)
    assert (record.status, record.status_category) == ("Completed", StatusCategory.DONE)
    assert (record.assignee, record.assignee_id, record.title) == ("ada", "m-1", "Boom")
    assert record.updated_at == change.occurred_at and record.etag is None and record.given is None

    # A move that came with another change says too little: the story is read.
    body = json.loads(moved("started", "done"))
    body["actions"][0]["changes"]["owner_ids"] = {"adds": ["m-2"]}
    both = connector().parse_webhook({}, json.dumps(body).encode())
    assert both.ticket is not None and both.ticket.given is None


def test_comments_owners_creates_and_deletes() -> None:
    story = {"id": 7, "entity_type": "story", "name": "Boom", "app_url": "http://x/sandbox/story/7"}
    comment = {"id": 31, "entity_type": "story-comment", "action": "create", "text": "hi", "author_id": "u-2"}
    commented = connector().parse_webhook(
        {}, event(comment, story | {"action": "update", "changes": {"comment_ids": {"adds": [31]}}})
    )
    assert (commented.kind, commented.comment, commented.comment_id, commented.actor) == (
        ChangeKind.COMMENTED,
        "hi",
        "31",
        "u-2",
    )
    assigned = connector().parse_webhook(
        {}, event(story | {"action": "update", "changes": {"owner_ids": {"adds": ["u-3"]}}})
    )
    assert assigned.kind is ChangeKind.ASSIGNED and assigned.ticket and assigned.ticket.assignee_id == "u-3"
    unassigned = connector().parse_webhook(
        {}, event(story | {"action": "update", "changes": {"owner_ids": {"removes": ["u-3"]}}})
    )
    assert unassigned.kind is ChangeKind.UNASSIGNED
    assert connector().parse_webhook({}, event(story | {"action": "create"})).kind is ChangeKind.CREATED
    deleted = connector().parse_webhook({}, event(story | {"action": "delete"}))
    assert deleted.kind is ChangeKind.DELETED and deleted.ticket and deleted.ticket.deleted
    epic = connector().parse_webhook({}, event({"id": 3, "entity_type": "epic", "action": "update"}))
    assert epic.kind is ChangeKind.IGNORED


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1]",
        b'{"actions": []}',
        b'{"id": 5, "actions": []}',
        b'{"id": "e", "actions": [{"entity_type": "story", "id": 1, "changes": []}]}',
    ],
)
def test_malformed_deliveries_are_refused(body: bytes) -> None:
    with pytest.raises(WebhookRejected):
        connector().parse_webhook({}, body)
