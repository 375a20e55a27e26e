"""Comments: `addComment` stores and announces one (ids only in the outbox, the resource in webhooks),
`Issue.comments` pages them, and sync out posts them to linked tickets (ADF on Jira) when the
installation's comments direction is on."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from conduit.events.catalog import EVENT_TYPES
from conduit.events.resources import expand
from conduit.ids import decode_as, encode
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import create_ticket, idle, settle
from tests.sync.people import member, tracker_comments, tracker_user, unique_email
from tests.sync.test_people import SET_ACCOUNT

ADD = """
mutation($id: ID!, $body: String!) { addComment(issueId: $id, body: $body) {
  __typename ... on AddCommentPayload { comment { id body createdAt } }
  ... on ValidationError { message field } ... on NotFoundError { message } } }"""
LIST = """
query($id: ID!, $after: String) { issue(id: $id) { comments(first: 1, after: $after) {
  nodes { id body } pageInfo { hasNextPage endCursor } } } }"""
CONFIG = """
mutation($id: ID!, $on: Boolean!) { updateInstallationConfig(installationId: $id,
  config: {commentsOutbound: $on}) { __typename } }"""


async def add(conduit: Conduit, issue_id: int, body: str) -> dict[str, Any]:
    return dict((await conduit.graphql(ADD, id=encode("Issue", issue_id), body=body))["addComment"])


async def test_add_comment_validation_paging_and_event(conduit: Conduit) -> None:
    issue_id = await conduit.issue()
    assert (await add(conduit, issue_id, "   "))["field"] == "body"
    too_long = await add(conduit, issue_id, "x" * 10_001)
    assert too_long["field"] == "body" and "10000" in too_long["message"]
    assert (await add(conduit, issue_id, "x" * 10_000))["__typename"] == "AddCommentPayload"
    missing = (await conduit.graphql(ADD, id=encode("Issue", 10**12), body="hi"))["addComment"]
    assert missing["__typename"] == "NotFoundError"
    second = (await add(conduit, issue_id, "Fixed in 1.4.3"))["comment"]

    first_page = (await conduit.graphql(LIST, id=encode("Issue", issue_id)))["issue"]["comments"]
    assert [n["body"] for n in first_page["nodes"]] == ["x" * 10_000]
    assert first_page["pageInfo"]["hasNextPage"]
    after = first_page["pageInfo"]["endCursor"]
    rest = (await conduit.graphql(LIST, id=encode("Issue", issue_id), after=after))["issue"]["comments"]
    assert [n["id"] for n in rest["nodes"]] == [second["id"]]

    events = [e for e in await conduit.events("comment.created", issue_id)]
    assert len(events) == 2
    data = events[-1]["data"]
    assert data["comment_id"] == decode_as(second["id"], "Comment") and "body" not in data
    async with conduit.runtime.sessions() as session:
        resource = await expand(session, conduit.tenant.organization_id, "comment.created", data)
    assert resource["comment"]["body"] == "Fixed in 1.4.3"
    assert resource["comment"]["id"] == second["id"]
    validator = Draft202012Validator(EVENT_TYPES["comment.created"].schema)
    assert not list(validator.iter_errors(resource))


async def test_comments_sync_out_when_on(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)

    await add(conduit, issue_id, "Fixed in billing@1.4.3\n\ndeploying now")

    async def posted() -> list[Any]:
        return await tracker_comments(conduit, side, installed.id, ticket["key"])

    bodies = await wait_for(posted, "the comment to reach the ticket")
    assert bodies == ["Fixed in billing@1.4.3\n\ndeploying now"]

    # Off: a new comment stays in Conduit.
    assert (await conduit.graphql(CONFIG, id=installed.gid, on=False))["updateInstallationConfig"][
        "__typename"
    ] == "UpdateInstallationConfigPayload"
    await add(conduit, issue_id, "internal note")
    await wait_for(lambda: idle(conduit), "the job queue to drain")
    assert len(await tracker_comments(conduit, side, installed.id, ticket["key"])) == 1


COMMENTS = """
query($id: ID!) { issue(id: $id) { comments(first: 20) {
  nodes { body authorId source { installationId provider authorName } } } } }"""


async def test_tracker_comments_sync_in_once_with_their_author_and_ours_are_not_echoed(
    conduit: Conduit, side: Side
) -> None:
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)

    async def comments() -> list[dict[str, Any]]:
        data = await conduit.graphql(COMMENTS, id=encode("Issue", issue_id))
        return list(data["issue"]["comments"]["nodes"])

    # Conduit's own comment reaches the ticket; the tracker's webhook about it adds nothing here.
    await add(conduit, issue_id, "from conduit")
    await wait_for(
        lambda: tracker_comments(conduit, side, installed.id, ticket["key"]),
        "the comment to reach the ticket",
    )
    await wait_for(lambda: idle(conduit), "the job queue to drain")

    # A person in the tracker, mapped to a member, and one who is no member.
    email = unique_email("rae")
    rae = await member(conduit, email)
    rae_account = await tracker_user(side, email, email_shown=False)
    mapped = await conduit.graphql(SET_ACCOUNT, m=encode("Member", rae), i=installed.gid, a=rae_account)
    assert mapped["setTrackerAccount"]["__typename"] == "SetTrackerAccountPayload"
    stranger = await tracker_user(side, unique_email("sol"), email_shown=False)
    first = await side.act(ticket["key"], "comment", text="seen in prod too", user=rae_account)
    await settle(conduit, side, first)
    await settle(conduit, side, await side.act(ticket["key"], "comment", text="me too", user=stranger))

    nodes = await comments()
    assert [n["body"] for n in nodes] == ["from conduit", "seen in prod too", "me too"]
    assert nodes[0]["source"] is None
    assert nodes[1]["authorId"] == encode("Member", rae)
    assert nodes[1]["source"] == {"installationId": installed.gid, "provider": side.key, "authorName": None}
    assert nodes[2]["authorId"] is None and nodes[2]["source"]["authorName"]
    # The event names the tracker as actor: sync out does not send it back to this ticket.
    events = await conduit.events("comment.created", issue_id)
    assert [e["actor"]["type"] for e in events] == ["api_token", "tracker", "tracker"]
    assert len(await tracker_comments(conduit, side, installed.id, ticket["key"])) == 3

    # The same comment delivered again (to this installation: the last delivery), under a new
    # delivery id: taken once.
    status, _ = await side.send(first[-1], guid="a-second-delivery-of-the-same-comment")
    assert status == 202
    await wait_for(lambda: idle(conduit), "the job queue to drain")
    assert len(await comments()) == 3
