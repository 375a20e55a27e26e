"""Faults at the tracker (timeouts, 5xx, 429, a lost webhook, a deleted ticket): the sides converge."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from conduit.db.models import IssueLink
from conduit.sync.reconcile import reconcile_installation
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import category_is, create_ticket, idle

HEALTH = """query($id: ID!) { installation(id: $id) { health(window: HOUR) {
  calls errorRate failures p50Ms p95Ms lastError rateLimitRemaining } } }"""


async def test_converge_through_faults(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    title = f"Faulty {secrets.token_hex(4)}"
    try:
        # The create times out (answer lost), then 503, then 429: one ticket all the same.
        await side.fault(kind="timeout", seconds=3, count=1)
        await side.fault(kind="error", status=503, count=1)
        await side.fault(kind="rate_limit", retry_after=1, count=1)
        ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope, title)
        connector_search = await _search(conduit, installed.id, side.scope, title)
        assert connector_search == [ticket["key"]]

        # Resolve in Conduit while the tracker limits and fails: the ticket closes in the end.
        change = side.driver.status_change_call
        await side.fault(kind="rate_limit", retry_after=1, count=1, match=change)
        await side.fault(kind="error", status=502, count=1, match=change)
        await conduit.set_status(issue_id, "RESOLVED")
        await wait_for(
            lambda: category_is(conduit, installed.id, ticket["key"], "done"), "the ticket to close"
        )
        await wait_for(lambda: idle(conduit), "the queue to drain")

        # Reopened in the tracker while its webhooks are lost: reconcile repairs the drift.
        await side.fault(kind="drop_webhooks")
        await side.act(ticket["key"], "reopen")
        assert await conduit.issue_status(issue_id) == "resolved"
        await reconcile_installation(conduit.runtime, installed.id)
        assert await conduit.issue_status(issue_id) == "unresolved"
        events = await conduit.events("issue.unresolved", issue_id)
        assert [e["actor"]["type"] for e in events] == ["tracker"]

        # Deleted in the tracker, webhook lost too: reconcile marks the link broken.
        await side.delete(ticket["key"])
        await reconcile_installation(conduit.runtime, installed.id)
        async with conduit.runtime.sessions() as session:
            broken = (
                await session.execute(select(IssueLink.broken).where(IssueLink.issue_id == issue_id))
            ).scalar_one()
        assert broken is True
    finally:
        await side.clear_faults()

    health = (await conduit.graphql(HEALTH, id=installed.gid))["installation"]["health"]
    assert health["calls"] > 0 and health["failures"] >= 4
    assert 0 < health["errorRate"] < 1
    assert health["p50Ms"] is not None and health["p95Ms"] >= health["p50Ms"]
    assert health["lastError"]


async def _search(conduit: Conduit, installation_id: int, scope: str, title: str) -> list[str]:
    from conduit.connectors import get_connectors

    connector = await get_connectors(conduit.runtime).connector(installation_id)
    return sorted(t.key for t in await connector.search(scope, title) if t.title == title)
