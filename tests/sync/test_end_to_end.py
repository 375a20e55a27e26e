"""Both trackers end to end over real HTTP: install through OAuth, create a ticket from an issue,
close it in the tracker → issue resolved; change it in Conduit → ticket changed; no echo bounces."""

from __future__ import annotations

from sqlalchemy import func, select

from conduit.db.models import ExternalIssue
from conduit.db.models.integrations import TrackerWebhook
from conduit.ids import decode_as, encode
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import category_is, create_ticket, idle

LINKS = """
query($id: ID!) { issue(id: $id) { links { broken externalIssue {
  key url title status statusCategory updatedAt lastSyncedAt installation { status } } } } }"""


async def ticket_count(conduit: Conduit, installation_id: int) -> int:
    async with conduit.runtime.sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(ExternalIssue)
                .where(ExternalIssue.installation_id == installation_id)
            )
            or 0
        )


async def webhook_registered(conduit: Conduit, installation_id: int) -> bool:
    async with conduit.runtime.sessions() as session:
        row = (
            await session.execute(
                select(TrackerWebhook).where(TrackerWebhook.installation_id == installation_id)
            )
        ).scalar_one_or_none()
        return row is not None and row.external_id is not None


async def test_round_trip(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    issue_id = await conduit.issue()

    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)
    assert ticket["title"] == "ZeroDivisionError: division by zero"
    assert ticket["url"].startswith(side.url)
    assert await ticket_count(conduit, installed.id) == 1
    await wait_for(lambda: webhook_registered(conduit, installed.id), "the webhook to be registered")

    links = (await conduit.graphql(LINKS, id=encode("Issue", issue_id)))["issue"]["links"]
    assert [link["externalIssue"]["key"] for link in links] == [ticket["key"]]
    assert links[0]["externalIssue"]["statusCategory"] == "OPEN"

    # Closed in the tracker by a person → resolved in Conduit, with the sync as the actor.
    deliveries = await side.act(ticket["key"], "close")
    assert deliveries, "the tracker sent no webhook"

    async def resolved() -> bool:
        return await conduit.issue_status(issue_id) == "resolved"

    await wait_for(resolved, "the issue to be resolved by the tracker's webhook")
    events = await conduit.events("issue.resolved", issue_id)
    assert [e["actor"]["type"] for e in events] == ["tracker"]
    assert decode_as(events[0]["actor"]["id"], "Installation") == installed.id

    # Reopened in Conduit → reopened in the tracker; then resolved in Conduit → closed again.
    await conduit.set_status(issue_id, "UNRESOLVED")
    await wait_for(lambda: category_is(conduit, installed.id, ticket["key"], "open"), "the ticket to reopen")
    await conduit.set_status(issue_id, "RESOLVED")
    await wait_for(lambda: category_is(conduit, installed.id, ticket["key"], "done"), "the ticket to close")

    # The tracker's webhooks about Conduit's own changes did not bounce back as new changes.
    await wait_for(lambda: idle(conduit), "the job queue to drain")
    assert await conduit.issue_status(issue_id) == "resolved"
    assert [e["actor"]["type"] for e in await conduit.events("issue.resolved", issue_id)] == [
        "tracker",
        "api_token",
    ]
    assert [e["actor"]["type"] for e in await conduit.events("issue.unresolved", issue_id)] == ["api_token"]
