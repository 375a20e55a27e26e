"""An installation's life past the happy path: directions switched off, several resolved statuses,
config checked against the tracker, Jira webhooks refreshed before they expire, a replayed OAuth
callback refused, and uninstalling that cleans up in the tracker."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from conduit.connectors import get_connectors
from conduit.db.models import Installation, OutboxRow
from conduit.db.models.integrations import OAuthState, TrackerWebhook
from conduit.ids import decode_as, encode
from conduit.sync.reconcile import reconcile_installation
from tests.connectors.drivers import oauth_only
from tests.sync.conftest import START, Conduit, Side, install, wait_for
from tests.sync.helpers import category_is, configure, create_ticket, idle, settle

UNINSTALL = """
mutation($id: ID!) { uninstall(installationId: $id) { __typename
  ... on UninstallPayload { installationId webhooksRemoved tokenRevoked leftovers } } }"""


async def test_directions_switched_off(conduit: Conduit, side: Side) -> None:
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


async def test_status_names_checked(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    await create_ticket(conduit, installed.gid, await conduit.issue(), side.scope)
    bad = await configure(conduit, installed.gid, resolvedStatuses=["no such status"])
    assert bad["__typename"] == "UnknownStatusError"
    valid = bad["validStatuses"]
    assert valid and ", ".join(valid) in bad["message"]
    connector = await get_connectors(conduit.runtime).connector(installed.id)
    assert valid == await connector.statuses([side.scope])
    ok = await configure(conduit, installed.gid, resolvedStatuses=[valid[-1]])
    assert ok["__typename"] == "UpdateInstallationConfigPayload"


async def test_replayed_oauth_callback_refused(conduit: Conduit, side: Side) -> None:
    oauth_only(side.key)
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


async def test_uninstall_cleans_up_in_the_tracker(conduit: Conduit, side: Side) -> None:
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
    hooks_key = side.driver.webhooks_in_state
    state = await side.control("GET", "/state")
    assert external_id in {str(h["id"]) for h in state[hooks_key]}
    connector_token = await _token(conduit, installed.id)

    removed = (await conduit.graphql(UNINSTALL, id=installed.gid))["uninstall"]
    assert removed == {
        "__typename": "UninstallPayload",
        "installationId": installed.gid,
        "webhooksRemoved": 1,
        "tokenRevoked": side.driver.revokes_grant,
        "leftovers": [],
    }
    state = await side.control("GET", "/state")
    assert external_id not in {str(h["id"]) for h in state[hooks_key]}
    if side.driver.revokes_grant:
        assert await side.control("POST", "/oauth/introspect", json={"token": connector_token}) == {
            "active": False
        }
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
            if r.payload.get("type") == "tracker_installation.removed"
        ]
    mine = [e for e in events if e["data"]["installation"]["id"] == encode("Installation", installed.id)]
    assert len(mine) == 1 and mine[0]["data"]["webhooks_removed"] == 1


async def _token(conduit: Conduit, installation_id: int) -> str:
    from conduit.connectors import get_connectors

    token = await get_connectors(conduit.runtime).credentials.access_token(installation_id)
    assert token
    return token


async def test_a_moved_ticket_keeps_its_link_and_its_key_follows(conduit: Conduit, side: Side) -> None:
    if not side.driver.moves_tickets:
        pytest.skip(f"the {side.key} sandbox does not move tickets")
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)
    async with httpx.AsyncClient(base_url=f"{side.url}/_sandbox", timeout=10) as control:
        scope = await side.driver.new_scope(control)
    moved = await side.control("POST", "/tickets/move", json={"key": ticket["key"], "scope": scope})
    assert moved["key"] != ticket["key"]
    await settle(conduit, side, moved["deliveries"])

    # Read again (the tracker still answers to the old key): the link follows the ticket's stable id.
    await reconcile_installation(conduit.runtime, installed.id)
    links = (await conduit.graphql(LINKS, id=encode("Issue", issue_id)))["issue"]["links"]
    assert [link["externalIssue"]["key"] for link in links] == [moved["key"]]
    updates = [e["data"]["changes"] for e in await _ticket_events(conduit, installed.id)]
    assert ["key"] in updates

    # Changed in the tracker under its new key: still applied to the issue.
    closed = await side.act(moved["key"], "close")
    await settle(conduit, side, closed)
    await reconcile_installation(conduit.runtime, installed.id)
    await wait_for(lambda: _status_is(conduit, issue_id, "resolved"), "the moved ticket's close to apply")


LINKS = "query($id: ID!) { issue(id: $id) { links { externalIssue { key } } } }"


async def _status_is(conduit: Conduit, issue_id: int, wanted: str) -> bool:
    return await conduit.issue_status(issue_id) == wanted


async def _ticket_events(conduit: Conduit, installation_id: int) -> list[dict[str, Any]]:
    async with conduit.runtime.sessions() as session:
        rows = (
            await session.execute(
                select(OutboxRow.payload).where(
                    OutboxRow.kind == "events.publish",
                    OutboxRow.organization_id == conduit.tenant.organization_id,
                )
            )
        ).scalars()
        return [
            p
            for p in rows
            if p.get("type") == "external_issue.updated"
            and decode_as(p["data"]["external_issue"]["installation_id"], "Installation") == installation_id
        ]
