"""Assignees both ways over real HTTP, matched by email, by the tracker's user search, or by a stored
tracker account when the tracker hides emails; a member with no tracker user is said on the link."""

from __future__ import annotations

from conduit.ids import decode_as, encode
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import create_ticket, idle, tracker_ticket
from tests.sync.people import (
    assign_in_conduit,
    assign_in_tracker,
    assignee_of,
    external,
    member,
    tracker_user,
    unique_email,
)

LINK_ERROR = "query($id: ID!) { issue(id: $id) { links { externalIssue { assignee syncError } } } }"


async def test_assignee_both_ways(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)

    # Out: the member's email is shown by the tracker's user search → that user is assigned.
    email = unique_email("dana")
    dana = await member(conduit, email)
    account = await tracker_user(side, email, email_shown=True)
    await assign_in_conduit(conduit, issue_id, dana)

    async def assigned_in_tracker() -> bool:
        return (await tracker_ticket(conduit, installed.id, ticket["key"])).assignee_id == account

    await wait_for(assigned_in_tracker, "the ticket to be assigned in the tracker")

    # In: unassigned, then assigned back by a person in the tracker → the same in Conduit, with
    # the tracker as actor naming the person who did it there.
    assert await assign_in_tracker(side, ticket["key"], None)
    await wait_for(lambda: _assignee_is(conduit, issue_id, None), "the issue to be unassigned")
    assert await assign_in_tracker(side, ticket["key"], account)
    await wait_for(lambda: _assignee_is(conduit, issue_id, dana), "the issue to be assigned again")
    events = await conduit.events("issue.assigned", issue_id)
    assert [e["actor"]["type"] for e in events] == ["api_token", "tracker", "tracker"]
    assert decode_as(events[-1]["actor"]["id"], "Installation") == installed.id
    assert events[-1]["actor"]["tracker_user"]
    assert [e["data"]["assignee_id"] for e in events] == [dana, None, dana]
    await wait_for(lambda: idle(conduit), "the job queue to drain")
    # The sync's own changes were not sent back to the tracker as new ones.
    assert (await tracker_ticket(conduit, installed.id, ticket["key"])).assignee_id == account
    assert len(await conduit.events("issue.assigned", issue_id)) == 3


async def test_hidden_email_is_explained_not_silent(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)
    email = unique_email("hidden")
    hidden = await member(conduit, email)
    account = await tracker_user(side, email, email_shown=False)

    await assign_in_conduit(conduit, issue_id, hidden)
    if not side.driver.finds_hidden_emails:
        # A user search that never shows a hidden email: no match, and the link says why.
        async def explained() -> str | None:
            return (await external(conduit, installed.id, ticket["key"])).sync_error

        reason = await wait_for(explained, "the link to say why the assignee was not set")
        assert email in reason
        links = (await conduit.graphql(LINK_ERROR, id=_gid(issue_id)))["issue"]["links"]
        assert links[0]["externalIssue"]["syncError"] == reason
        assert (await tracker_ticket(conduit, installed.id, ticket["key"])).assignee_id is None
        # Assigned by a person in the tracker: that user matches no member yet, which is said too.
        await assign_in_tracker(side, ticket["key"], account)

        async def unmatched() -> bool:
            error = (await external(conduit, installed.id, ticket["key"])).sync_error
            return error is not None and "matches no member" in error

        await wait_for(unmatched, "the link to say the tracker's assignee matches no member")
        assert await assignee_of(conduit, issue_id) == hidden  # left as it was
    else:
        # An exact search finds a hidden email; the match is stored, so webhooks (which hide the
        # email) map the user back to the member.
        async def assigned() -> bool:
            return (await tracker_ticket(conduit, installed.id, ticket["key"])).assignee_id == account

        await wait_for(assigned, "the ticket to be assigned in the tracker")
        await assign_in_tracker(side, ticket["key"], None)
        await wait_for(lambda: _assignee_is(conduit, issue_id, None), "the issue to be unassigned")
        await assign_in_tracker(side, ticket["key"], account)
        await wait_for(lambda: _assignee_is(conduit, issue_id, hidden), "the stored account to match")
        assert (await external(conduit, installed.id, ticket["key"])).sync_error is None


async def _assignee_is(conduit: Conduit, issue_id: int, wanted: int | None) -> bool:
    return await assignee_of(conduit, issue_id) == wanted


def _gid(issue_id: int) -> str:
    from conduit.ids import encode

    return encode("Issue", issue_id)


SET_ACCOUNT = """
mutation($m: ID!, $i: ID!, $a: String) { setTrackerAccount(memberId: $m, installationId: $i, account: $a) {
  __typename ... on SetTrackerAccountPayload { account } ... on UserError { message }
  ... on ValidationError { field } } }"""


async def test_a_member_mapped_by_hand_is_assigned_both_ways(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)
    # A tracker user whose email the tracker hides, under another address than the member's.
    lee = await member(conduit, unique_email("lee"))
    account = await tracker_user(side, unique_email("lee-at-work"), email_shown=False)

    async def set_account(value: str | None, member_id: int = lee) -> dict[str, str]:
        out = await conduit.graphql(SET_ACCOUNT, m=encode("Member", member_id), i=installed.gid, a=value)
        return dict(out["setTrackerAccount"])

    for bad in ("", "two words", "x" * 201):
        refused = await set_account(bad)
        assert (refused["__typename"], refused["field"]) == ("ValidationError", "account"), refused
    assert (await set_account(account, 10**12))["__typename"] == "NotFoundError"
    assert (await set_account(account))["account"] == account

    await assign_in_conduit(conduit, issue_id, lee)

    async def assigned_in_tracker() -> bool:
        return (await tracker_ticket(conduit, installed.id, ticket["key"])).assignee_id == account

    await wait_for(assigned_in_tracker, "the ticket to be assigned to the mapped user")
    await assign_in_tracker(side, ticket["key"], None)
    await wait_for(lambda: _assignee_is(conduit, issue_id, None), "the issue to be unassigned")
    await assign_in_tracker(side, ticket["key"], account)
    await wait_for(lambda: _assignee_is(conduit, issue_id, lee), "the mapped user to be the member again")

    # Removed: the tracker user matches no member any more, and the link says so.
    assert (await set_account(None))["account"] is None
    await assign_in_tracker(side, ticket["key"], None)
    await wait_for(lambda: _assignee_is(conduit, issue_id, None), "the issue to be unassigned")
    await assign_in_tracker(side, ticket["key"], account)

    async def unmatched() -> bool:
        error = (await external(conduit, installed.id, ticket["key"])).sync_error
        return error is not None and "matches no member" in error

    await wait_for(unmatched, "the link to say the tracker's assignee matches no member")
