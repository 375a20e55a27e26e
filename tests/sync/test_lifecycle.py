"""An installation's life past the happy path: directions switched off, several resolved statuses,
config checked against the tracker, Jira webhooks refreshed before they expire, a replayed OAuth
callback refused, and uninstalling that cleans up in the tracker."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update

from conduit.connectors.jira import parse_time
from conduit.db.base import utcnow
from conduit.db.models import Installation, OutboxRow
from conduit.db.models.integrations import OAuthState, TrackerWebhook
from conduit.ids import decode_as, encode
from conduit.sync.reconcile import reconcile_installation
from tests.sync.conftest import START, Conduit, Side, install, wait_for
from tests.sync.helpers import category_is, create_ticket, idle, tracker_ticket

CONFIG = """
mutation($id: ID!, $c: InstallationConfigInput!) { updateInstallationConfig(installationId: $id, config: $c) {
  __typename ... on UnknownStatusError { message field unknown validStatuses }
  ... on ValidationError { message field } } }"""
UNINSTALL = """
mutation($id: ID!) { uninstall(installationId: $id) { __typename
  ... on UninstallPayload { installationId webhooksRemoved tokenRevoked leftovers } } }"""


async def configure(conduit: Conduit, gid: str, **config: Any) -> dict[str, Any]:
    return dict((await conduit.graphql(CONFIG, id=gid, c=config))["updateInstallationConfig"])


async def settle(conduit: Conduit, side: Side, deliveries: list[int]) -> None:
    """The tracker's webhooks delivered and every job they caused run."""
    for delivery in deliveries:
        await side.delivery(delivery)
    await wait_for(lambda: idle(conduit), "the job queue to drain")


@pytest.mark.parametrize("provider", ["github", "jira"])
async def test_directions_switched_off(conduit: Conduit, sides: dict[str, Side], provider: str) -> None:
    side = sides[provider]
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)
    await wait_for(lambda: idle(conduit), "the job queue to drain")

    # Out off: resolving in Conduit leaves the ticket open.
    assert (await configure(conduit, installed.gid, statusOutbound=False))["__typename"] == (
        "UpdateInstallationConfigPayload"
    )
    await conduit.set_status(issue_id, "RESOLVED")
    await wait_for(lambda: idle(conduit), "the job queue to drain")
    assert await category_is(conduit, installed.id, ticket["key"], "open")

    # In off: closing then reopening in the tracker leaves the issue resolved.
    await configure(conduit, installed.gid, statusOutbound=True, statusInbound=False)
    await settle(conduit, side, await side.act(ticket["key"], "close"))
    await settle(conduit, side, await side.act(ticket["key"], "reopen"))
    assert await conduit.issue_status(issue_id) == "resolved"
    assert await conduit.events("issue.unresolved", issue_id) == []

    # Both on again: the next change flows.
    await configure(conduit, installed.gid, statusInbound=True)
    await settle(conduit, side, await side.act(ticket["key"], "close"))
    await settle(conduit, side, await side.act(ticket["key"], "reopen"))
    assert await conduit.issue_status(issue_id) == "unresolved"


async def test_jira_several_resolved_statuses(conduit: Conduit, sides: dict[str, Side]) -> None:
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


async def test_github_status_names_checked(conduit: Conduit, sides: dict[str, Side]) -> None:
    side = sides["github"]
    installed = await install(conduit, side)
    await create_ticket(conduit, installed.gid, await conduit.issue(), side.scope)
    bad = await configure(conduit, installed.gid, resolvedStatuses=["done"])
    assert bad["__typename"] == "UnknownStatusError"
    assert bad["validStatuses"] == ["open", "closed"] and "open, closed" in bad["message"]
    ok = await configure(conduit, installed.gid, resolvedStatuses=["closed"])
    assert ok["__typename"] == "UpdateInstallationConfigPayload"


async def test_jira_webhook_refreshed_near_expiry(conduit: Conduit, sides: dict[str, Side]) -> None:
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


async def test_replayed_oauth_callback_refused(conduit: Conduit, sides: dict[str, Side]) -> None:
    side = sides["github"]
    started = (await conduit.graphql(START, p=side.key, b=side.url))["startInstallation"]
    pk = decode_as(started["installation"]["id"], "Installation")
    async with httpx.AsyncClient(timeout=10) as browser:
        consent = await browser.get(started["authorizeUrl"])
        location = urlsplit(consent.headers["location"])
        callback = f"{conduit.url}{location.path}?{location.query}"
        first = await browser.get(callback)
        assert first.status_code == 202, first.text

        async def active() -> bool:
            return (await conduit.installation(pk)).status.value == "active"

        await wait_for(active, "the installation to become active")
        before = await conduit.installation(pk)
        jobs_before = await _install_jobs(conduit)
        replay = await browser.get(callback)
    assert replay.status_code == 400
    assert "already used" in replay.text and "start the installation again" in replay.text
    after = await conduit.installation(pk)
    assert (after.status, after.access_token_enc, after.credentials_version) == (
        before.status,
        before.access_token_enc,
        before.credentials_version,
    )
    assert await _install_jobs(conduit) == jobs_before
    async with conduit.runtime.sessions() as session:
        used = await session.scalar(
            select(func.count()).select_from(OAuthState).where(OAuthState.installation_id == pk)
        )
    assert used == 1


async def _install_jobs(conduit: Conduit) -> int:
    async with conduit.runtime.sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxRow)
                .where(
                    OutboxRow.kind == "tracker.install",
                    OutboxRow.organization_id == conduit.tenant.organization_id,
                )
            )
            or 0
        )


@pytest.mark.parametrize("provider", ["github", "jira"])
async def test_uninstall_cleans_up_in_the_tracker(
    conduit: Conduit, sides: dict[str, Side], provider: str
) -> None:
    side = sides[provider]
    installed = await install(conduit, side)
    await create_ticket(conduit, installed.gid, await conduit.issue(), side.scope)

    async def hook_id() -> str | None:
        async with conduit.runtime.sessions() as session:
            return (
                await session.execute(
                    select(TrackerWebhook.external_id).where(TrackerWebhook.installation_id == installed.id)
                )
            ).scalar_one_or_none()

    external_id = await wait_for(hook_id, "the webhook to be registered")
    hooks_key = "hooks" if provider == "github" else "webhooks"
    state = await side.control("GET", "/state")
    assert external_id in {str(h["id"]) for h in state[hooks_key]}
    connector_token = await _token(conduit, installed.id)

    removed = (await conduit.graphql(UNINSTALL, id=installed.gid))["uninstall"]
    assert removed == {
        "__typename": "UninstallPayload",
        "installationId": installed.gid,
        "webhooksRemoved": 1,
        "tokenRevoked": provider == "github",
        "leftovers": [],
    }
    state = await side.control("GET", "/state")
    assert external_id not in {str(h["id"]) for h in state[hooks_key]}
    if provider == "github":
        async with httpx.AsyncClient(base_url=f"{side.url}/api/v3") as c:
            refused = await c.get("/user", headers={"Authorization": f"Bearer {connector_token}"})
        assert refused.status_code == 401
    async with conduit.runtime.sessions() as session:
        assert await session.get(Installation, installed.id) is None
        events = [
            r.payload
            for r in (
                await session.execute(
                    select(OutboxRow).where(
                        OutboxRow.kind == "events.publish",
                        OutboxRow.organization_id == conduit.tenant.organization_id,
                    )
                )
            ).scalars()
            if r.payload.get("type") == "installation.removed"
        ]
    mine = [e for e in events if e["data"]["installation"]["id"] == encode("Installation", installed.id)]
    assert len(mine) == 1 and mine[0]["data"]["webhooks_removed"] == 1


async def _token(conduit: Conduit, installation_id: int) -> str:
    from conduit.connectors import get_connectors

    token = await get_connectors(conduit.runtime).credentials.access_token(installation_id)
    assert token
    return token
