"""Steps for the assignee and comment tests: members, tracker users, assigning on either side."""

from __future__ import annotations

import uuid
from typing import Any

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
    """A user in the tracker; returns its stable id (GitHub login, Jira accountId)."""
    if side.key == "github":
        login = email.split("@")[0]
        await side.control(
            "POST", "/users", json={"login": login, "email": email, "public_email": email_shown}
        )
        return login
    data = await side.control(
        "POST",
        "/users",
        json={"displayName": email.split("@")[0], "email": email, "hide_email": not email_shown},
    )
    return str(data["accountId"])


async def assign_in_tracker(side: Side, key: str, account: str | None) -> list[int]:
    if side.key == "github":
        repo, number = key.split("#")
        data = await side.control(
            "POST", f"/repos/{repo}/issues/{number}/assign", json={"assignees": [account] if account else []}
        )
    else:
        data = await side.control("POST", f"/issues/{key}/assign", json={"accountId": account})
    return list(data["deliveries"])


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


async def tracker_comments(conduit: Conduit, installation_id: int, key: str) -> list[Any]:
    """The ticket's comment bodies as the tracker holds them (GitHub Markdown, Jira ADF), over its API."""
    connector = await get_connectors(conduit.runtime).connector(installation_id)
    if connector.provider.key == "github":
        repo, number = key.split("#")
        owner, name = repo.split("/")
        path = {"owner": owner, "repo": name, "number": number}
        reply = await connector.api.call(
            "test.comments", "GET", "/repos/{owner}/{repo}/issues/{number}/comments", path=path
        )
        return [c["body"] for c in reply.data]
    reply = await connector.api.call("test.comments", "GET", "/issue/{key}/comment", path={"key": key})
    return [c["body"] for c in reply.data["comments"]]
