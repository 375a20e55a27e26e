"""A tracker webhook registered at a URL Conduit no longer answers (before hook URLs carried the
installation's token, or before the public URL moved) is moved by reconcile, and sync in works again."""

from __future__ import annotations

import secrets

from sqlalchemy import select, update

from conduit.db.models import Installation
from conduit.db.models.integrations import TrackerWebhook
from conduit.sync.reconcile import reconcile_installation
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import create_ticket, idle


async def test_a_webhook_at_an_old_url_is_moved_by_reconcile(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)

    async def registered() -> TrackerWebhook | None:
        async with conduit.runtime.sessions() as session:
            return (
                await session.execute(
                    select(TrackerWebhook).where(
                        TrackerWebhook.installation_id == installed.id,
                        TrackerWebhook.external_id.is_not(None),
                    )
                )
            ).scalar_one_or_none()

    before = await wait_for(registered, "the webhook to be registered")
    assert before.url is not None and before.url.endswith(
        f"/hooks/{side.key}/" + before.url.rsplit("/", 1)[1]
    )
    await wait_for(lambda: idle(conduit), "the queue to drain")

    # The state an upgraded database starts in: the tracker holds a URL Conduit refuses, the row no URL.
    async with conduit.runtime.sessions() as session:
        await session.execute(
            update(Installation)
            .where(Installation.id == installed.id)
            .values(hook_token=secrets.token_urlsafe(24))
        )
        await session.execute(update(TrackerWebhook).where(TrackerWebhook.id == before.id).values(url=None))
        await session.commit()
    [stale] = (await side.act(ticket["key"], "close"))[-1:]
    refused = await side.delivery(stale)
    assert (refused["status"], refused["response_status"]) == ("failed", 401), refused
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "unresolved"

    await reconcile_installation(conduit.runtime, installed.id)
    after = await registered()
    assert after is not None and after.url is not None and after.external_id is not None
    async with conduit.runtime.sessions() as session:
        token = (await session.get(Installation, installed.id)).hook_token  # type: ignore[union-attr]
    assert after.url.endswith(f"/hooks/{side.key}/{token}")
    # Reconcile also read the ticket back, so the close reached the issue anyway; what the moved webhook
    # brings is the next change, as it happens.
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "resolved"
    [fresh] = (await side.act(ticket["key"], "reopen"))[-1:]
    delivered = await side.delivery(fresh)
    assert (delivered["status"], delivered["response_status"]) == ("delivered", 202), delivered
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "unresolved"
    # A second reconcile finds nothing to move.
    await reconcile_installation(conduit.runtime, installed.id)
    again = await registered()
    assert again is not None and again.external_id == after.external_id
