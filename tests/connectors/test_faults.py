"""Faults injected into the sandbox trackers come out as the error hierarchy, and are recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from conduit.connectors import Connector, Connectors, StatusCategory, TicketDraft
from conduit.connectors.errors import NotFound, RateLimited, Revoked, Unavailable
from conduit.db.models import InstallationStatus, Interaction, InteractionOutcome, OutboxRow
from conduit.events.catalog import EVENT_TYPES
from conduit.events.resources import expand
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.connectors.conftest import Tracker, install, interactions, make_connectors, status_of
from tests.connectors.drivers import installs_over_oauth

DRAFT = TicketDraft(title="KeyError: 'user'", summary="", issue_url="http://testserver/issues/7")


@pytest.fixture
async def faults(tracker: Tracker) -> AsyncIterator[Tracker]:
    await tracker.clear_faults()
    yield tracker
    await tracker.clear_faults()


async def _ticket(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> tuple[Connector, str]:
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    return connector, (await connector.create_ticket(tracker.scope, DRAFT)).key


async def _last(runtime: Runtime, connector: Connector, operation: str) -> Interaction:
    rows = await interactions(runtime, connector.api.target.installation_id)
    return [r for r in rows if r.operation == operation][-1]


async def test_rate_limit_raises_with_the_delay(
    runtime: Runtime, connectors: Connectors, faults: Tracker, tenant: Tenant
) -> None:
    connector, key = await _ticket(runtime, connectors, faults, tenant)
    await faults.add_fault(kind="rate_limit", retry_after=7, count=1, match=faults.driver.ticket_read_call)
    with pytest.raises(RateLimited) as caught:
        await connector.get_ticket(key)
    assert caught.value.retry_after == 7
    row = await _last(runtime, connector, "ticket.get")
    assert (row.http_status, row.outcome) == (429, InteractionOutcome.FAILURE)
    # The fault was used up: the next call goes through.
    assert (await connector.get_ticket(key)).key == key


async def test_server_error_is_unavailable(
    runtime: Runtime, connectors: Connectors, faults: Tracker, tenant: Tenant
) -> None:
    connector, key = await _ticket(runtime, connectors, faults, tenant)
    await faults.add_fault(kind="error", status=502, count=1, match=faults.driver.ticket_read_call)
    with pytest.raises(Unavailable) as caught:
        await connector.get_ticket(key)
    assert caught.value.status == 502
    row = await _last(runtime, connector, "ticket.get")
    assert (row.http_status, row.outcome) == (502, InteractionOutcome.FAILURE)
    assert row.error is not None and row.error.startswith("Unavailable")


async def test_timeout_is_unavailable(runtime: Runtime, faults: Tracker, tenant: Tenant) -> None:
    service = make_connectors(runtime, faults, timeout=0.3)
    try:
        connector, key = await _ticket(runtime, service, faults, tenant)
        await faults.add_fault(kind="timeout", seconds=30, count=1, match=faults.driver.ticket_read_call)
        with pytest.raises(Unavailable, match="timed out"):
            await connector.get_ticket(key)
        row = await _last(runtime, connector, "ticket.get")
        assert (row.http_status, row.outcome) == (None, InteractionOutcome.FAILURE)
    finally:
        await service.aclose()


async def test_revoked_grant_marks_the_installation(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    connector, key = await _ticket(runtime, connectors, tracker, tenant)
    installation_id = connector.api.target.installation_id
    row = await status_of(runtime, installation_id)
    assert row.access_token_enc is not None
    await tracker.revoke(runtime.secrets.decrypt(row.access_token_enc))

    with pytest.raises(Revoked):
        await connector.get_ticket(key)
    row = await status_of(runtime, installation_id)
    assert row.status is InstallationStatus.REVOKED
    assert row.status_reason is not None and "Reinstall" in row.status_reason
    rejected = await _last(runtime, connector, "ticket.get")
    assert (rejected.http_status, rejected.outcome) == (401, InteractionOutcome.HALTED)
    if installs_over_oauth(tracker.key):
        refresh = await _last(runtime, connector, "oauth.refresh")
        assert refresh.outcome is InteractionOutcome.HALTED

    # A revoked installation makes no more calls.
    await tracker.clear_calls()
    with pytest.raises(Revoked):
        await connector.get_ticket(key)
    assert (await tracker.calls())["total"] == 0

    async with runtime.sessions() as session:
        events = (
            await session.execute(select(OutboxRow).where(OutboxRow.kind == "events.publish"))
        ).scalars()
        failed = [
            e
            for e in events
            if e.payload.get("type") == "tracker_installation.failed"
            and e.payload["data"].get("installation_id") == installation_id
        ]
        assert len(failed) == 1
        # What receivers get is the installation in the catalog's shape, not the ids the row keeps.
        data = await expand(
            session, tenant.organization_id, "tracker_installation.failed", failed[0].payload["data"]
        )
    Draft202012Validator(EVENT_TYPES["tracker_installation.failed"].data).validate(data)
    assert data["installation"]["status"] == "revoked"


async def test_deleted_ticket_comes_back_deleted(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    connector, key = await _ticket(runtime, connectors, tracker, tenant)
    other = (await connector.create_ticket(tracker.scope, DRAFT)).key
    await tracker.person("delete", key)
    with pytest.raises(NotFound):
        await connector.get_ticket(key)
    records = await connector.get_tickets([key, other])
    assert records[key].deleted and not records[other].deleted


async def test_etag_not_modified(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    connector, key = await _ticket(runtime, connectors, tracker, tenant)
    first = await connector.get_ticket(key)
    if first.etag is None:
        pytest.skip(f"{tracker.key} has no conditional reads")  # a capability, seen in the record
    assert not first.not_modified
    again = await connector.get_ticket(key, known=first)
    assert again.not_modified and again.key == first.key and again.etag == first.etag
    row = await _last(runtime, connector, "ticket.get")
    assert (row.http_status, row.outcome) == (304, InteractionOutcome.SUCCESS)

    await tracker.close_as_person(key)
    changed = await connector.get_ticket(key, known=first)
    assert not changed.not_modified and changed.etag != first.etag
    assert changed.status_category is StatusCategory.DONE
