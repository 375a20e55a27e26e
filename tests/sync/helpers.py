"""Steps the sync tests share: creating a linked ticket, waiting for the queue, reading tickets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from conduit.connectors import TicketRecord, get_connectors
from conduit.db.models import OutboxRow, OutboxState
from conduit.ids import encode
from tests.sync.conftest import Conduit, Side, wait_for

CREATE = """
mutation($issue: ID!, $inst: ID!, $target: String!, $title: String) {
  createExternalIssue(issueId: $issue, installationId: $inst, target: $target, title: $title) {
    __typename
    ... on CreateExternalIssuePayload { request { id state } }
    ... on UserError { message }
  }
}"""
CONFIG = """
mutation($id: ID!, $c: InstallationConfigInput!) { updateInstallationConfig(installationId: $id, config: $c) {
  __typename ... on UnknownStatusError { message field unknown validStatuses }
  ... on ValidationError { message field } } }"""
REQUEST = "query($id: ID!) { ticketRequest(id: $id) { state error externalIssue { key url title } } }"


async def create_ticket(
    conduit: Conduit, installation_gid: str, issue_id: int, target: str, title: str | None = None
) -> dict[str, str]:
    """Submit twice, as a double click would; both answers name one request, and it finishes."""
    variables = {
        "issue": encode("Issue", issue_id),
        "inst": installation_gid,
        "target": target,
        "title": title,
    }
    answers = [(await conduit.graphql(CREATE, **variables))["createExternalIssue"] for _ in range(2)]
    assert answers[0]["__typename"] == "CreateExternalIssuePayload", answers[0]
    assert answers[0]["request"]["id"] == answers[1]["request"]["id"]

    async def done() -> dict[str, str] | None:
        request = (await conduit.graphql(REQUEST, id=answers[0]["request"]["id"]))["ticketRequest"]
        assert request["state"] != "FAILED", request
        return request["externalIssue"] if request["state"] == "DONE" else None

    ticket: dict[str, str] = await wait_for(done, "the ticket to be created", within=30)
    return ticket


async def idle(conduit: Conduit) -> bool:
    async with conduit.runtime.sessions() as session:
        waiting = await session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(
                OutboxRow.organization_id == conduit.tenant.organization_id,
                OutboxRow.state.in_((OutboxState.PENDING, OutboxState.QUEUED, OutboxState.RUNNING)),
            )
        )
    return waiting == 0


async def tracker_ticket(conduit: Conduit, installation_id: int, key: str) -> TicketRecord:
    """The ticket as the tracker has it now (not Conduit's cache)."""
    connector = await get_connectors(conduit.runtime).connector(installation_id)
    return await connector.get_ticket(key)


async def category_is(conduit: Conduit, installation_id: int, key: str, wanted: str) -> bool:
    return (await tracker_ticket(conduit, installation_id, key)).status_category.value == wanted


async def configure(conduit: Conduit, gid: str, **config: Any) -> dict[str, Any]:
    return dict((await conduit.graphql(CONFIG, id=gid, c=config))["updateInstallationConfig"])


async def settle(conduit: Conduit, side: Side, deliveries: list[int]) -> None:
    """The tracker's webhooks delivered and every job they caused run."""
    for delivery in deliveries:
        await side.delivery(delivery)
    await wait_for(lambda: idle(conduit), "the job queue to drain")
