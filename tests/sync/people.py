"""Steps for the assignee and comment tests: members, tracker users, assigning on either side."""

from __future__ import annotations

import uuid

from conduit.connectors import get_connectors
from conduit.db.models import ExternalIssue, Issue
from conduit.ids import encode
from tests.factories import make_member
from tests.sync.conftest import Conduit, Side

ASSIGN = """
mutation($id: ID!, $m: ID) { updateIssue(input: {id: $id, assigneeId: $m}) { __typename } }"""


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


async def member(conduit: Conduit, email: str) -> int:
    async with conduit.runtime.sessions() as session:
        row = await make_member(session, conduit.tenant.organization_id, email)
        await session.commit()
        return row.id


async def tracker_user(side: Side, email: str, *, email_shown: bool) -> str:
    """A user in the tracker; returns the id the tracker knows them by."""
    return await side.person(email, email_shown=email_shown)


async def assign_in_tracker(side: Side, key: str, account: str | None) -> list[int]:
    return await side.act(key, "assign", account=account)


async def assign_in_conduit(conduit: Conduit, issue_id: int, member_id: int | None) -> None:
    data = await conduit.graphql(
        ASSIGN, id=encode("Issue", issue_id), m=encode("Member", member_id) if member_id else None
    )
    assert data["updateIssue"]["__typename"] == "UpdateIssuePayload", data


async def assignee_of(conduit: Conduit, issue_id: int) -> int | None:
    async with conduit.runtime.sessions() as session:
        row = await session.get(Issue, issue_id, populate_existing=True)
        assert row is not None
        return row.assignee_id


async def external(conduit: Conduit, installation_id: int, key: str) -> ExternalIssue:
    from sqlalchemy import select

    async with conduit.runtime.sessions() as session:
        row = (
            await session.execute(
                select(ExternalIssue).where(
                    ExternalIssue.installation_id == installation_id, ExternalIssue.key == key
                )
            )
        ).scalar_one()
        return row


async def tracker_comments(conduit: Conduit, side: Side, installation_id: int, key: str) -> list[str]:
    """The ticket's comments as plain text, as the tracker holds them, read over its API."""
    connector = await get_connectors(conduit.runtime).connector(installation_id)
    return await side.driver.comments(connector, key)
