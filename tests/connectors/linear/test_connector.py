"""The Linear connector against its sandbox: GraphQL errors (inside a 200, a 400 or a 401) become the
shared errors, a moved issue is still found, a comment's delivery is read out, revoking ends the grant."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from conduit.connectors import Connectors, TicketDraft
from conduit.connectors.errors import NotFound, RateLimited
from conduit.connectors.linear.connector import LinearConnector
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.connectors.conftest import Tracker, install, interactions

DRAFT = TicketDraft(title="TypeError: x is undefined", summary="", issue_url="http://testserver/issues/5")


@pytest.fixture
async def linear(trackers: dict[str, Tracker]) -> AsyncIterator[Tracker]:
    tracker = trackers["linear"]
    yield tracker
    async with tracker.control() as c:
        await c.put("/rate-limits", json={"remaining": 5000, "status": 400})
        await c.delete("/faults")


async def _connector(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> LinearConnector:
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    assert isinstance(connector, LinearConnector)
    return connector


@pytest.mark.parametrize("status", [400, 200])
async def test_a_spent_budget_is_rate_limited_until_the_reset(
    runtime: Runtime, connectors: Connectors, linear: Tracker, tenant: Tenant, status: int
) -> None:
    connector = await _connector(runtime, connectors, linear, tenant)
    key = (await connector.create_ticket(linear.scope, DRAFT)).key
    async with linear.control() as c:
        budget = (await c.put("/rate-limits", json={"remaining": 0, "status": status})).json()
    with pytest.raises(RateLimited) as caught:
        await connector.get_ticket(key)
    # No Retry-After: the wait is read from X-RateLimit-Requests-Reset, in milliseconds.
    assert 3000 < caught.value.retry_after <= 3600 and caught.value.status == status
    assert budget["reset_ms"] > 10**12


async def test_a_missing_issue_is_not_found_though_the_answer_is_200(
    runtime: Runtime, connectors: Connectors, linear: Tracker, tenant: Tenant
) -> None:
    connector = await _connector(runtime, connectors, linear, tenant)
    with pytest.raises(NotFound, match="Could not find referenced Issue"):
        await connector.get_ticket(f"{linear.scope}-99999")
    row = [
        r
        for r in await interactions(runtime, connector.api.target.installation_id)
        if r.operation == "ticket.get"
    ][-1]
    assert row.http_status == 200 and row.error is not None and row.error.startswith("NotFound")


async def test_a_moved_issue_keeps_its_id_and_answers_to_its_old_key(
    runtime: Runtime, connectors: Connectors, linear: Tracker, tenant: Tenant
) -> None:
    connector = await _connector(runtime, connectors, linear, tenant)
    created = await connector.create_ticket(linear.scope, DRAFT)
    async with linear.control() as c:
        team = "M" + created.key.rsplit("-", 1)[1][-4:].zfill(4)
        (await c.post("/teams", json={"key": team})).raise_for_status()
        (await c.post(f"/issues/{created.key}/move", json={"team": team})).raise_for_status()
    moved = await connector.get_ticket(created.key)
    assert moved.tracker_id == created.tracker_id and moved.key.startswith(f"{team}-")
    batch = await connector.get_tickets([created.key])
    assert [r.tracker_id for r in batch.values()] == [created.tracker_id]


async def test_a_comment_delivery_is_read_out_before_it_is_applied(
    runtime: Runtime, connectors: Connectors, linear: Tracker, tenant: Tenant
) -> None:
    connector = await _connector(runtime, connectors, linear, tenant)
    created = await connector.create_ticket(linear.scope, DRAFT)
    await linear.close_as_person(created.key)
    named = created.__class__(
        created.key,
        created.url,
        created.title,
        "",
        created.status_category,
        None,
        None,
        tracker_id=created.tracker_id,
    )
    read = await connector.webhook_ticket(named)
    assert read.status == "Done" and read.updated_at is not None


async def test_uninstalling_revokes_the_token(
    runtime: Runtime, connectors: Connectors, linear: Tracker, tenant: Tenant
) -> None:
    connector = await _connector(runtime, connectors, linear, tenant)
    token = await connectors.credentials.access_token(connector.api.target.installation_id)
    assert token and await connector.revoke(token)
    async with httpx.AsyncClient(base_url=f"{linear.url}/_sandbox") as c:
        assert (await c.post("/oauth/introspect", json={"token": token})).json() == {"active": False}
    # Revoking a token that is already gone is not an error.
    assert await connector.revoke(token)
