"""Jira's own lifecycle: workflows with several done statuses, and webhooks that expire."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from conduit.connectors.jira.connector import parse_time
from conduit.db.base import utcnow
from conduit.db.models.integrations import TrackerWebhook
from conduit.sync.reconcile import reconcile_installation
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import category_is, configure, create_ticket, settle, tracker_ticket

CONFIG = """
mutation($id: ID!, $c: InstallationConfigInput!) { updateInstallationConfig(installationId: $id, config: $c) {
  __typename ... on UnknownStatusError { message field unknown validStatuses }
  ... on ValidationError { message field } } }"""
UNINSTALL = """
mutation($id: ID!) { uninstall(installationId: $id) { __typename
  ... on UninstallPayload { installationId webhooksRemoved tokenRevoked leftovers } } }"""


async def test_several_resolved_statuses(conduit: Conduit, sides: dict[str, Side]) -> None:
    side = sides["jira"]
    project = "W" + uuid.uuid4().hex[:6].upper().replace("0", "A")
    workflow = [
        {"name": "To Do", "category": "new"},
        {"name": "In Progress", "category": "indeterminate"},
        {"name": "Done", "category": "done"},
        {"name": "Won't Do", "category": "done"},
    ]
    await side.control("POST", "/projects", json={"key": project, "workflow": workflow})
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, project)

    # Names the tracker lacks: a typed error listing the valid ones; nothing is saved.
    bad = await configure(conduit, installed.gid, resolvedStatuses=["Done", "Closed"], resolveStatus="Done")
    assert bad["__typename"] == "UnknownStatusError", bad
    assert bad["field"] == "resolvedStatuses" and bad["unknown"] == ["Closed"]
    assert set(bad["validStatuses"]) == {"To Do", "In Progress", "Done", "Won't Do"}
    wrong_target = await configure(conduit, installed.gid, reopenStatus="Backlog")
    assert wrong_target["__typename"] == "UnknownStatusError" and wrong_target["field"] == "reopenStatus"
    row = await conduit.installation(installed.id)
    assert row.config.get("resolved_statuses") in (None, [])

    ok = await configure(conduit, installed.gid, resolvedStatuses=["Done", "Won't Do"], resolveStatus="Done")
    assert ok["__typename"] == "UpdateInstallationConfigPayload", ok

    async def transition(to: str) -> None:
        data = await side.control("POST", f"/issues/{ticket['key']}/transition", json={"to": to})
        await settle(conduit, side, list(data["deliveries"]))

    await transition("Won't Do")
    assert await conduit.issue_status(issue_id) == "resolved"
    await conduit.set_status(issue_id, "UNRESOLVED")
    await wait_for(lambda: category_is(conduit, installed.id, ticket["key"], "open"), "the ticket to reopen")
    await transition("Done")
    assert await conduit.issue_status(issue_id) == "resolved"
    await transition("In Progress")
    assert await conduit.issue_status(issue_id) == "unresolved"
    # Resolved in Conduit: moved to the configured resolve status, not the first done one.
    await conduit.set_status(issue_id, "RESOLVED")
    await wait_for(lambda: category_is(conduit, installed.id, ticket["key"], "done"), "the ticket to close")
    assert (await tracker_ticket(conduit, installed.id, ticket["key"])).status == "Done"


async def test_webhook_refreshed_near_expiry(conduit: Conduit, sides: dict[str, Side]) -> None:
    side = sides["jira"]
    installed = await install(conduit, side)
    await create_ticket(conduit, installed.gid, await conduit.issue(), side.scope)

    async def hook() -> TrackerWebhook | None:
        async with conduit.runtime.sessions() as session:
            return (
                await session.execute(
                    select(TrackerWebhook).where(
                        TrackerWebhook.installation_id == installed.id,
                        TrackerWebhook.external_id.is_not(None),
                    )
                )
            ).scalar_one_or_none()

    registered = await wait_for(hook, "the Jira webhook to be registered")
    assert registered.expires_at is not None and registered.expires_at > utcnow() + timedelta(days=29)
    # Far from expiry: reconcile leaves it alone.
    await reconcile_installation(conduit.runtime, installed.id)
    unchanged = await hook()
    assert unchanged is not None and unchanged.expires_at == registered.expires_at

    # Two days left: reconcile extends it at Jira and stores Jira's new expiry.
    async with conduit.runtime.sessions() as session:
        await session.execute(
            update(TrackerWebhook)
            .where(TrackerWebhook.id == registered.id)
            .values(expires_at=utcnow() + timedelta(days=2))
        )
        await session.commit()
    await side.clear_calls()
    await reconcile_installation(conduit.runtime, installed.id)
    refreshed = await hook()
    assert refreshed is not None and refreshed.expires_at is not None
    assert refreshed.expires_at > utcnow() + timedelta(days=29)
    state = await side.control("GET", "/state")
    at_jira = next(w for w in state["webhooks"] if str(w["id"]) == registered.external_id)
    assert parse_time(at_jira["expirationDate"]) == refreshed.expires_at
    calls = await side.control("GET", "/calls")
    assert any(c.get("path", "").endswith("/webhook/refresh") for c in calls["calls"]), calls
