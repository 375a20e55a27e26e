"""The contract every connector passes, run over real HTTP against its sandbox tracker."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conduit.connectors import ChangeKind, Connectors, StatusCategory, TicketDraft, WebhookRejected
from conduit.connectors.base import WebhookContext
from conduit.connectors.oauth import GrantRefused
from conduit.connectors.registry import provider
from conduit.db.models import InstallationStatus, InteractionOutcome
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.connectors.conftest import REDIRECT_URI, Tracker, install, interactions, status_of
from tests.connectors.drivers import installs_over_oauth, oauth_only

DRAFT = TicketDraft(
    title="ZeroDivisionError: division by zero",
    summary="Seen 12 times since yesterday.",
    issue_url="http://testserver/issues/42",
    exception='Traceback (most recent call last):\n  File "app.py", line 3\nZeroDivisionError: ```boom```',
)


async def test_install_through_oauth(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    oauth_only(tracker.key)
    installed = await install(runtime, connectors, tracker, tenant)
    row = await status_of(runtime, installed.installation_id)
    assert row.status is InstallationStatus.ACTIVE
    assert row.account_id and row.account_name
    # Tokens are stored encrypted, never as sent.
    assert row.access_token_enc and runtime.secrets.decrypt(row.access_token_enc) not in row.access_token_enc
    assert row.refresh_token_enc is not None and row.token_expires_at is not None
    query = parse_qs(urlsplit(installed.authorize_url).query)
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["state"][0]
    assert ("code_challenge" in query) is installed.connector.provider.pkce
    if installed.connector.provider.pkce:
        assert query["code_challenge_method"] == ["S256"]


async def test_pkce_verifier_is_required(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    if not provider(tracker.key).pkce:
        pytest.skip(f"{tracker.key} does not use PKCE")  # a capability, so no driver is needed
    installed = await install(runtime, connectors, tracker, tenant)
    row = await status_of(runtime, installed.installation_id)
    request = connectors.authorization_request(row, REDIRECT_URI)
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(request.url)
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    with pytest.raises(GrantRefused) as caught:
        await installed.connector.exchange_code(code, REDIRECT_URI, "not-the-verifier")
    assert "code_verifier" in caught.value.message


async def test_ticket_lifecycle(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    connector = (await install(runtime, connectors, tracker, tenant)).connector

    created = await connector.create_ticket(tracker.scope, DRAFT)
    assert created.title == DRAFT.title
    assert created.status_category is StatusCategory.OPEN
    assert created.url.startswith(tracker.url) and created.url.rstrip("/").split("/")[-1] in created.key
    fetched = await connector.get_ticket(created.key)
    assert (fetched.key, fetched.title) == (created.key, created.title)
    # Known by the tracker's stable id too, the same on every read: a move keeps the link by it.
    assert created.tracker_id and fetched.tracker_id == created.tracker_id

    resolved = await connector.set_status(created.key, True, connector.config)
    assert resolved.status_category is StatusCategory.DONE
    reopened = await connector.set_status(created.key, False, connector.config)
    assert reopened.status_category is not StatusCategory.DONE

    comment = await connector.comment(created.key, "Regressed in release 1.4.2")
    assert comment.id

    found = await connector.search(tracker.scope, "ZeroDivisionError")
    assert created.key in {t.key for t in found}

    many = await connector.get_tickets([created.key, created.key])
    assert list(many) == [created.key]


async def test_a_status_change_from_the_stored_copy_is_one_call(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    """Sync out passes the stored copy: once a tracker's workflow is known, a move is one call; a copy
    the tracker has moved on from still ends in the wanted state."""
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    created = await connector.create_ticket(tracker.scope, DRAFT)
    # The first moves each way learn the workflow (a Jira transition depends on the status left).
    resolved = await connector.set_status(created.key, True, connector.config, None)
    reopened = await connector.set_status(created.key, False, connector.config, resolved)
    assert reopened.status_category is not StatusCategory.DONE

    await tracker.clear_calls()
    resolved = await connector.set_status(created.key, True, connector.config, reopened)
    assert resolved.status_category is StatusCategory.DONE
    assert (await tracker.calls())["total"] == 1
    assert (await connector.get_ticket(created.key)).status_category is StatusCategory.DONE

    # A person reopened it meanwhile: the stored copy says done, the tracker says open.
    async with tracker.control() as c:
        (await c.post("/tickets/reopen", json={"key": created.key})).raise_for_status()
    again = await connector.set_status(created.key, False, connector.config, resolved)
    assert again.status_category is not StatusCategory.DONE
    assert (await connector.get_ticket(created.key)).status_category is not StatusCategory.DONE


async def test_assign_by_email(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    created = await connector.create_ticket(tracker.scope, DRAFT)
    account = await connector.find_user(tracker.assignee_email)
    assert account is not None
    assigned = await connector.assign(created.key, account)
    assert assigned.assignee is not None and assigned.assignee_id == account
    unassigned = await connector.assign(created.key, None)
    assert unassigned.assignee is None and unassigned.assignee_id is None
    assert await connector.find_user("nobody-by-this-address@example.com") is None


async def test_description_quotes_exception_and_links_back(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    created = await connector.create_ticket(tracker.scope, DRAFT)
    async with tracker.control() as c:
        state = (await c.get("/state")).json()
    tracker.driver.check_description(state, created, DRAFT)


async def test_created_tickets_carry_their_labels(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    labels = ("conduit", "production error")
    created = await connector.create_ticket(tracker.scope, replace(DRAFT, labels=labels))
    # A second ticket with one label of the first and a new one: an existing label is reused.
    again = await connector.create_ticket(tracker.scope, replace(DRAFT, labels=("conduit", "urgent")))
    plain = await connector.create_ticket(tracker.scope, DRAFT)
    async with tracker.control() as c:
        state = (await c.get("/state")).json()
    found = tracker.driver.labels(state, created)
    assert sorted(found) == sorted(tracker.driver.label_as(n) for n in labels)
    assert sorted(tracker.driver.labels(state, again)) == sorted(
        tracker.driver.label_as(n) for n in ("conduit", "urgent")
    )
    assert tracker.driver.labels(state, plain) == []


async def test_webhooks_verified_and_parsed(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    secret = "whsec-" + tracker.key
    registration = await connector.register_webhook(tracker.scope, "http://127.0.0.1:9/hooks", secret)
    assert registration.id
    used_secret = registration.secret
    created = await connector.create_ticket(tracker.scope, DRAFT)

    deliveries = await tracker.close_as_person(created.key)
    assert deliveries
    sent = await tracker.delivery(deliveries[-1])
    headers, body = dict(sent["headers"]), sent["body"].encode()

    # What the receiver knows of the installation; claims in a signature must name its site and webhook.
    context = WebhookContext(
        site_url=connector.api.site_url, cloud=False, webhook_ids=frozenset({registration.id})
    )
    connector.verify_webhook(headers, body, used_secret, context)
    change = connector.parse_webhook(headers, body)
    assert change.kind is ChangeKind.CLOSED
    assert change.key == created.key
    assert change.ticket is not None and change.ticket.status_category is StatusCategory.DONE
    assert change.delivery_id and change.occurred_at is not None

    unsigned = {
        k: v
        for k, v in headers.items()
        if k.lower() not in {h.lower() for h in tracker.sandbox.signature_headers}
    }
    with pytest.raises(WebhookRejected):
        # A replay with an HMAC header of our own making, under a secret that is not the installation's.
        connector.verify_webhook(unsigned | {"X-Hub-Signature": "sha256=" + "0" * 64}, body, "other")
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(unsigned, body, used_secret)
    for forged_headers, forged_body, forged_secret in tracker.driver.forgeries(headers, body, used_secret):
        with pytest.raises(WebhookRejected):
            connector.verify_webhook(forged_headers, forged_body, forged_secret, context)
    with pytest.raises(WebhookRejected):
        connector.parse_webhook(headers, b"{not json")
    with pytest.raises(WebhookRejected):
        connector.parse_webhook(headers, b"[1, 2]")

    rows = await interactions(runtime, connector.api.target.installation_id)
    expected = {"account.discover", "webhook.register"}
    if installs_over_oauth(tracker.key):
        expected.add("oauth.exchange_code")
    assert {r.operation for r in rows} >= expected


async def test_interactions_record_outcome_and_duration(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    created = await connector.create_ticket(tracker.scope, DRAFT)
    rows = await interactions(runtime, connector.api.target.installation_id)
    create = [r for r in rows if r.operation == "ticket.create"]
    assert len(create) == 1
    assert create[0].outcome is InteractionOutcome.SUCCESS
    assert create[0].http_status == tracker.driver.created_status and create[0].duration_ms >= 0
    assert create[0].organization_id == tenant.organization_id
    # Templates, not concrete paths: no ticket keys in the log.
    assert created.key.split("#")[-1] not in create[0].path.split("/")[-1]
