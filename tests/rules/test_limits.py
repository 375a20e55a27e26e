"""Never a flood: a rule's hourly ticket limit holds across a burst, a tracker that says "rate limited"
is left alone, and whatever a limit holds back is in the firing log with its reason."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conduit.db.models import Interaction
from conduit.ids import decode_as
from tests.rules.helpers import create_rule, drained, error, firings_of, issue_of, send, tickets_of, unique
from tests.sync.conftest import Conduit, Side, install, wait_for

# Scaled down from the issue's 500 new issues against a limit of 20 per hour (same ratio, a quarter
# of the work; a 2-core machine runs it in a few seconds).
ISSUES = 100
LIMIT = 5
CREATE_ROUTE = "issues.create"  # the GitHub sandbox's name for POST /repos/{owner}/{repo}/issues


async def creates(side: Side) -> int:
    data: dict[str, Any] = await side.control("GET", "/calls", params={"limit": 0})
    return int(data["by_route"].get(CREATE_ROUTE, 0))


async def test_a_burst_of_new_issues_makes_the_limit_and_logs_the_rest_as_suppressed(
    conduit: Conduit, sides: dict[str, Side]
) -> None:
    side = sides["github"]
    installed = await install(conduit, side)
    await side.clear_calls()
    rule = await create_rule(
        conduit,
        name="Every new error",
        trigger="NEW_ISSUE",
        installationId=installed.gid,
        target=side.scope,
        maxTicketsPerHour=LIMIT,
    )
    prefix = unique("Burst")
    await send(conduit, [error(f"{prefix}x{n}") for n in range(ISSUES)])
    await drained(conduit, within=120)

    firings = [f for f in await firings_of(conduit, rule["id"]) if f["action"] == "ticket"]
    assert len(firings) == ISSUES, "every issue fired once, no more"
    assert len({f["issue"]["id"] for f in firings}) == ISSUES
    outcomes = sorted(f["outcome"] for f in firings)
    assert outcomes == ["CREATED"] * LIMIT + ["SUPPRESSED"] * (ISSUES - LIMIT)
    held = [f for f in firings if f["outcome"] == "SUPPRESSED"]
    assert all(f["reason"].startswith(f"rule limit: {LIMIT} ticket(s) per hour") for f in held)
    assert await creates(side) == LIMIT, "the tracker was asked for exactly the tickets the limit allows"

    # The log filters by outcome, and pages.
    suppressed = (
        await conduit.graphql(
            "query($r: ID!) { ruleFirings(ruleId: $r, outcomes: [SUPPRESSED], first: 7) { nodes { outcome } "
            "pageInfo { hasNextPage } } }",
            r=rule["id"],
        )
    )["ruleFirings"]
    assert [n["outcome"] for n in suppressed["nodes"]] == ["SUPPRESSED"] * 7
    assert suppressed["pageInfo"]["hasNextPage"]

    # The limit stays taken: a new issue now is held back too, and says when the next slot frees.
    late = unique("Late")
    await send(conduit, [error(late)])
    await drained(conduit)
    issue = await issue_of(conduit, late)
    mine = [
        f for f in await firings_of(conduit, rule["id"]) if decode_as(f["issue"]["id"], "Issue") == issue.id
    ]
    assert [f["outcome"] for f in mine] == ["SUPPRESSED"] and "may be made at" in mine[0]["reason"]
    assert await tickets_of(conduit, issue.id) == []


async def test_a_throttling_tracker_is_left_alone_and_the_hold_back_logged(
    conduit: Conduit, sides: dict[str, Side]
) -> None:
    side = sides["github"]
    installed = await install(conduit, side)
    rule = await create_rule(
        conduit, name="New errors", trigger="NEW_ISSUE", installationId=installed.gid, target=side.scope
    )
    await side.clear_calls()
    await side.fault(kind="rate_limit", match=CREATE_ROUTE, count=1, retry_after=1)
    try:
        first = unique("Throttled")
        await send(conduit, [error(first)])

        async def told() -> bool:
            async with conduit.runtime.sessions() as session:
                found = await session.scalar(
                    select(Interaction.id).where(
                        Interaction.installation_id == installed.id, Interaction.http_status == 429
                    )
                )
            return found is not None

        await wait_for(told, "the tracker to answer 'rate limited'")
        second = unique("HeldBack")
        await send(conduit, [error(second)])
        await drained(conduit)
    finally:
        await side.clear_faults()

    # The first ticket was made once, after the tracker's delay; the second was held back, and said so.
    made = await issue_of(conduit, first)
    assert len(await tickets_of(conduit, made.id)) == 1
    # The refused call, then (after the tracker's delay) a search for the ticket it may have made and
    # at most one more create: never a retry storm, never a second ticket.
    assert await creates(side) in (1, 2)
    held = await issue_of(conduit, second)
    assert await tickets_of(conduit, held.id) == []
    firings = {decode_as(f["issue"]["id"], "Issue"): f for f in await firings_of(conduit, rule["id"])}
    assert firings[made.id]["outcome"] == "CREATED"
    assert firings[held.id]["outcome"] == "SUPPRESSED"
    assert firings[held.id]["reason"].startswith("tracker throttled: github answered 'rate limited'")
